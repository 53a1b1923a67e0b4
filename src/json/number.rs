//! JSON numbers as Matrix signs them: integers exactly, legacy floats as Synapse writes them.

use std::fmt;

/// The largest integer canonical JSON allows in strict mode: 2^53 − 1.
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A JSON number.
///
/// Integers are kept exactly, including integers beyond 64 bits (legacy room versions
/// 1 to 5 may carry them; their digits are kept as written, without sign on zero).
/// Floats only arise from lenient parsing and are written the way Synapse (Python's
/// `repr`) writes them, since that is what servers sign.
#[derive(Debug, Clone, PartialEq)]
pub struct Number(Repr);

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer outside the `i64` range, as canonical decimal digits with optional `-`.
    Big(Box<str>),
    /// A finite float.
    Float(f64),
}

impl Number {
    /// An integer from canonical decimal digits (optional `-`, no leading zeros),
    /// used by the parser for integers that do not fit in `i64`.
    pub(crate) fn from_big_digits(digits: &str) -> Self {
        match digits.parse::<i64>() {
            Ok(small) => Self(Repr::Int(small)),
            Err(_) => Self(Repr::Big(digits.into())),
        }
    }

    /// A float, or `None` when it is not finite (JSON has no NaN or infinity).
    #[must_use]
    pub fn from_f64(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(Repr::Float(value)))
    }

    /// The value as `i64`, if it is an integer in that range.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(value) => Some(value),
            Repr::Big(_) | Repr::Float(_) => None,
        }
    }

    /// The value as `u64`, if it is a non-negative integer in that range.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match &self.0 {
            Repr::Int(value) => u64::try_from(*value).ok(),
            Repr::Big(digits) => digits.parse().ok(),
            Repr::Float(_) => None,
        }
    }

    /// The value as `f64` (integers are converted, possibly losing precision).
    #[must_use]
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(value) => *value as f64,
            Repr::Big(digits) => digits.parse().unwrap_or(f64::NAN),
            Repr::Float(value) => *value,
        }
    }

    /// True for integers of any size.
    #[must_use]
    pub fn is_integer(&self) -> bool {
        !self.is_float()
    }

    /// True for floats (numbers written with a fraction or an exponent).
    #[must_use]
    pub fn is_float(&self) -> bool {
        matches!(self.0, Repr::Float(_))
    }

    /// True when strict canonical JSON (room versions 6 and later) allows this number:
    /// an integer within ±(2^53−1).
    #[must_use]
    pub fn is_strict_canonical(&self) -> bool {
        matches!(self.0, Repr::Int(value) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value))
    }

    /// Appends the canonical text of this number to `out`.
    pub(crate) fn write_canonical(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Int(value) => write_i64(*value, out),
            Repr::Big(digits) => out.extend_from_slice(digits.as_bytes()),
            Repr::Float(value) => write_python_float(*value, out),
        }
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Self(Repr::Int(value))
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Self {
        Self(Repr::Int(value.into()))
    }
}

impl From<u32> for Number {
    fn from(value: u32) -> Self {
        Self(Repr::Int(value.into()))
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Self {
        match i64::try_from(value) {
            Ok(small) => Self(Repr::Int(small)),
            Err(_) => Self(Repr::Big(value.to_string().into())),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(24);
        self.write_canonical(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// Writes an `i64` in decimal without allocating.
pub(crate) fn write_i64(value: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut rest = value.unsigned_abs();
    loop {
        pos -= 1;
        // `rest % 10` is below 10, so the cast cannot truncate.
        buf[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Writes a finite float as Python's `repr` does, which is what Synapse signs for the
/// floats of legacy room versions: the shortest digits that round-trip, in positional
/// notation with at least one fractional digit when the decimal exponent is in
/// `-4..16`, otherwise as `d.ddde±XX` with at least two exponent digits.
fn write_python_float(value: f64, out: &mut Vec<u8>) {
    // `{:e}` gives the shortest round-trip digits, e.g. "-1.5e-7" or "1e16".
    let sci = format!("{value:e}");
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Position of the decimal point relative to the start of `digits`.
    let point = exponent + 1;
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if negative {
        out.push(b'-');
    }
    if (-3..=16).contains(&point) {
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', point.unsigned_abs() as usize));
            out.extend_from_slice(digits.as_bytes());
        } else if point >= ndigits {
            out.extend_from_slice(digits.as_bytes());
            out.extend(std::iter::repeat_n(b'0', (point - ndigits) as usize));
            out.extend_from_slice(b".0");
        } else {
            let (int_part, frac_part) = digits.split_at(point as usize);
            out.extend_from_slice(int_part.as_bytes());
            out.push(b'.');
            out.extend_from_slice(frac_part.as_bytes());
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.extend_from_slice(first.as_bytes());
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest.as_bytes());
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_i64(i64::from(magnitude), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(value: f64) -> String {
        let mut out = Vec::new();
        write_python_float(value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_written_like_python_repr() {
        let cases = [
            (1.5, "1.5"),
            (3.0, "3.0"),
            (0.25, "0.25"),
            (100.0, "100.0"),
            (-2.5, "-2.5"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e10, "10000000000.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1e-7, "1e-07"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (123456.789, "123456.789"),
            (51146.98, "51146.98"),
            (9007199254740993.0, "9007199254740992.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (value, expected) in cases {
            assert_eq!(py(value), expected, "repr of {value:?}");
        }
    }

    #[test]
    fn integers_are_written_plainly() {
        for value in [
            0,
            1,
            -1,
            10,
            i64::MAX,
            i64::MIN,
            MAX_SAFE_INTEGER,
            -MAX_SAFE_INTEGER,
        ] {
            let mut out = Vec::new();
            write_i64(value, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    #[test]
    fn strictness_follows_the_safe_integer_range() {
        assert!(Number::from(MAX_SAFE_INTEGER).is_strict_canonical());
        assert!(Number::from(-MAX_SAFE_INTEGER).is_strict_canonical());
        assert!(!Number::from(MAX_SAFE_INTEGER + 1).is_strict_canonical());
        assert!(!Number::from_f64(1.0).unwrap().is_strict_canonical());
        assert!(!Number::from(u64::MAX).is_strict_canonical());
        assert!(Number::from_f64(f64::INFINITY).is_none());
    }

    #[test]
    fn big_integers_keep_their_digits() {
        let big = Number::from_big_digits("-123456789012345678901234567890");
        assert_eq!(big.to_string(), "-123456789012345678901234567890");
        assert_eq!(Number::from_big_digits("42").as_i64(), Some(42));
        assert_eq!(Number::from(u64::MAX).to_string(), "18446744073709551615");
    }
}
