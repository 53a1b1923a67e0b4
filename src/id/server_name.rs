//! Server names: `hostname [":" port]`, where the hostname is an IPv4 literal, a
//! bracketed IPv6 literal or a DNS name.

use std::net::Ipv6Addr;

use super::error::IdError;
use super::macros::string_id;

/// Longest DNS name the grammar allows (`dns-name = 1*255dns-char`).
const MAX_DNS_NAME_LEN: usize = 255;
/// Length bounds of an IPv6 literal without its brackets (`IPv6address = 2*45IPv6char`).
const IPV6_LEN: std::ops::RangeInclusive<usize> = 2..=45;
/// Longest port the grammar allows (`port = 1*5DIGIT`).
const MAX_PORT_LEN: usize = 5;
/// Longest server name: a 255-character DNS name, `:` and a five-digit port.
const MAX_SERVER_NAME_LEN: usize = MAX_DNS_NAME_LEN + 1 + MAX_PORT_LEN;

/// The name of a homeserver: `hostname [":" port]`.
///
/// The hostname is a dotted-quad IPv4 literal (each number 0 to 255), an IPv6 literal
/// in square brackets, or a DNS name of 1 to 255 letters, digits, `-` and `.`. Server
/// names compare case-sensitively, as the spec requires: `matrix.org` and
/// `MATRIX.ORG` are different servers.
///
/// Where the spec is loose this type decides:
///
/// * **Port**: the grammar says `1*5DIGIT` and gives no range; a value above 65535 is
///   not a TCP port, so it is rejected and [`ServerName::port`] fits in `u16`. Leading
///   zeros and port 0 match the grammar and are kept.
/// * **IPv6**: the text in brackets must be 2 to 45 of `0-9 A-F a-f : .` and parse as
///   an IPv6 address with std's parser, which follows RFC 3513 section 2.2 including
///   the embedded IPv4 tail (`[::ffff:1.2.3.4]`); zone IDs (`%eth0`) are rejected.
/// * **IPv4 versus DNS**: a hostname made of exactly four dot-separated groups of 1 to 3
///   digits is read as an IPv4 literal, so a group above 255 (`1.2.3.256`) is an
///   error, as the spec's prose says, although the DNS-name rule alone would allow it.
/// * **DNS labels**: the grammar (a MUST) allows empty labels such as `a..b` or a
///   trailing dot; the spec's label rule is a SHOULD, so they are accepted.
///
/// ```
/// use matrix_serverlib::id::ServerName;
///
/// let name = ServerName::parse("[1234:5678::abcd]:5678")?;
/// assert_eq!(name.host(), "[1234:5678::abcd]");
/// assert_eq!(name.port(), Some(5678));
/// assert!(ServerName::parse("matrix.org:99999").is_err());
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerName(Box<str>);

string_id!(ServerName, check);

impl ServerName {
    /// Parses a server name.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::TooLong`] (over 261 bytes),
    /// [`IdError::InvalidCharacter`], [`IdError::InvalidServerName`] or
    /// [`IdError::InvalidPort`] when `text` breaks the grammar.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// The hostname: everything before the port, brackets of an IPv6 literal included.
    #[must_use]
    pub fn host(&self) -> &str {
        split_host(&self.0).0
    }

    /// The explicit port, if there is one.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        let (_, rest) = split_host(&self.0);
        rest.strip_prefix(':').and_then(|port| port.parse().ok())
    }
}

fn check(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_SERVER_NAME_LEN {
        return Err(IdError::TooLong {
            len: text.len(),
            max: MAX_SERVER_NAME_LEN,
        });
    }
    validate_server_name(text, 0)
}

/// Checks a server name found at byte `offset` of a larger text (for error offsets).
pub(super) fn validate_server_name(text: &str, offset: usize) -> Result<(), IdError> {
    let (host, rest) = split_host(text);
    validate_host(host, offset)?;
    let rest_offset = offset + host.len();
    match rest.strip_prefix(':') {
        Some(port) => validate_port(port, rest_offset + 1),
        None if rest.is_empty() => Ok(()),
        None => Err(IdError::InvalidServerName {
            offset: rest_offset,
            reason: "expected ':' or the end after an IPv6 literal",
        }),
    }
}

/// Splits into the hostname and the rest: empty, `:port`, or (invalid) other text after
/// an IPv6 literal.
fn split_host(text: &str) -> (&str, &str) {
    let end = if text.starts_with('[') {
        text.find(']').map(|index| index + 1)
    } else {
        text.find(':')
    };
    // `end` is next to an ASCII character, so a char boundary; `split_at_checked` makes
    // that not matter anyway.
    end.and_then(|end| text.split_at_checked(end))
        .unwrap_or((text, ""))
}

fn validate_host(host: &str, offset: usize) -> Result<(), IdError> {
    match host.strip_prefix('[') {
        Some(inner) => match inner.strip_suffix(']') {
            Some(address) => validate_ipv6(address, offset + 1),
            None => Err(IdError::InvalidServerName {
                offset,
                reason: "IPv6 literal without closing ']'",
            }),
        },
        None => validate_dns_or_ipv4(host, offset),
    }
}

fn validate_ipv6(address: &str, offset: usize) -> Result<(), IdError> {
    let is_ipv6_char = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    if let Some((index, character)) = address.char_indices().find(|&(_, c)| !is_ipv6_char(c)) {
        return Err(IdError::InvalidCharacter {
            character,
            offset: offset + index,
        });
    }
    if !IPV6_LEN.contains(&address.len()) {
        return Err(IdError::InvalidServerName {
            offset,
            reason: "IPv6 literal must be 2 to 45 characters",
        });
    }
    if address.parse::<Ipv6Addr>().is_err() {
        return Err(IdError::InvalidServerName {
            offset,
            reason: "not a valid IPv6 address",
        });
    }
    Ok(())
}

fn validate_dns_or_ipv4(host: &str, offset: usize) -> Result<(), IdError> {
    if host.is_empty() {
        return Err(IdError::InvalidServerName {
            offset,
            reason: "empty hostname",
        });
    }
    let is_dns_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if let Some((index, character)) = host.char_indices().find(|&(_, c)| !is_dns_char(c)) {
        return Err(IdError::InvalidCharacter {
            character,
            offset: offset + index,
        });
    }
    if host.len() > MAX_DNS_NAME_LEN {
        return Err(IdError::InvalidServerName {
            offset: offset + MAX_DNS_NAME_LEN,
            reason: "DNS name longer than 255 characters",
        });
    }
    validate_ipv4_octets(host, offset)
}

/// If `host` has the shape of an IPv4 literal, checks that each number is at most 255.
fn validate_ipv4_octets(host: &str, offset: usize) -> Result<(), IdError> {
    let is_octet_shape =
        |group: &str| (1..=3).contains(&group.len()) && group.bytes().all(|b| b.is_ascii_digit());
    if host.split('.').count() != 4 || !host.split('.').all(is_octet_shape) {
        return Ok(());
    }
    let mut group_offset = offset;
    for group in host.split('.') {
        if group.parse::<u16>().is_ok_and(|value| value > 255) {
            return Err(IdError::InvalidServerName {
                offset: group_offset,
                reason: "IPv4 literal number above 255",
            });
        }
        group_offset += group.len() + 1;
    }
    Ok(())
}

fn validate_port(port: &str, offset: usize) -> Result<(), IdError> {
    let is_valid = (1..=MAX_PORT_LEN).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok();
    if is_valid {
        Ok(())
    } else {
        Err(IdError::InvalidPort {
            port: port.to_owned(),
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<(usize, &'static str)> {
        match ServerName::parse(text) {
            Err(IdError::InvalidServerName { offset, reason }) => Some((offset, reason)),
            _ => None,
        }
    }

    #[test]
    fn spec_examples() {
        for (text, host, port) in [
            ("matrix.org", "matrix.org", None),
            ("matrix.org:8888", "matrix.org", Some(8888)),
            ("1.2.3.4", "1.2.3.4", None),
            ("1.2.3.4:1234", "1.2.3.4", Some(1234)),
            ("[1234:5678::abcd]", "[1234:5678::abcd]", None),
            ("[1234:5678::abcd]:5678", "[1234:5678::abcd]", Some(5678)),
        ] {
            let name = ServerName::parse(text).unwrap();
            assert_eq!(name.as_str(), text);
            assert_eq!(name.host(), host, "{text}");
            assert_eq!(name.port(), port, "{text}");
        }
    }

    #[test]
    fn ports() {
        assert_eq!(ServerName::parse("a:1").unwrap().port(), Some(1));
        assert_eq!(ServerName::parse("a:0").unwrap().port(), Some(0));
        assert_eq!(ServerName::parse("a:65535").unwrap().port(), Some(65535));
        assert_eq!(ServerName::parse("a:08080").unwrap().port(), Some(8080));
        for (text, port) in [
            ("a:", ""),
            ("a:65536", "65536"),
            ("a:99999", "99999"),
            ("a:000001", "000001"),
        ] {
            let expected = IdError::InvalidPort {
                port: port.to_owned(),
                offset: 2,
            };
            assert_eq!(ServerName::parse(text), Err(expected), "{text}");
        }
        for text in ["a:1a", "a:+1", "a: 1", "a:1:2", "a:-1"] {
            assert!(
                matches!(ServerName::parse(text), Err(IdError::InvalidPort { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn ipv4_octets() {
        assert!(ServerName::parse("255.255.255.255").is_ok());
        assert!(ServerName::parse("0.0.0.0:1").is_ok());
        assert!(ServerName::parse("001.02.3.004").is_ok());
        assert_eq!(
            reason("1.2.3.256"),
            Some((6, "IPv4 literal number above 255"))
        );
        assert_eq!(
            reason("999.1.1.1:80"),
            Some((0, "IPv4 literal number above 255"))
        );
        // Not the shape of an IPv4 literal: a DNS name by the grammar.
        assert!(ServerName::parse("1.2.3.999.5").is_ok());
        assert!(ServerName::parse("1.2.999").is_ok());
        assert!(ServerName::parse("1.2.3.0256").is_ok());
    }

    #[test]
    fn ipv6_literals() {
        for text in [
            "[::]",
            "[::1]",
            "[::1]:8448",
            "[2001:DB8::1]",
            "[::ffff:1.2.3.4]",
            "[1:2:3:4:5:6:1.2.3.4]",
            "[1:2:3:4:5:6:7:8]",
            "[0000:0000:0000:0000:0000:0000:255.255.255.255]",
        ] {
            let name = ServerName::parse(text).unwrap();
            assert!(name.host().starts_with('['), "{text}");
        }
        assert_eq!(
            reason("[::1"),
            Some((0, "IPv6 literal without closing ']'"))
        );
        assert_eq!(reason("[1:2]"), Some((1, "not a valid IPv6 address")));
        assert_eq!(
            reason("[:]"),
            Some((1, "IPv6 literal must be 2 to 45 characters"))
        );
        assert_eq!(
            reason("[]"),
            Some((1, "IPv6 literal must be 2 to 45 characters"))
        );
        assert_eq!(
            reason("[::1]x"),
            Some((5, "expected ':' or the end after an IPv6 literal"))
        );
        assert_eq!(
            reason("[1:2:3:4:5:6:7:8:9]"),
            Some((1, "not a valid IPv6 address"))
        );
        assert_eq!(
            reason("[::ffff:1.2.3.256]"),
            Some((1, "not a valid IPv6 address"))
        );
        assert_eq!(
            ServerName::parse("[fe80::1%eth0]"),
            Err(IdError::InvalidCharacter {
                character: '%',
                offset: 8
            })
        );
        assert_eq!(
            ServerName::parse("[::g]"),
            Err(IdError::InvalidCharacter {
                character: 'g',
                offset: 3
            })
        );
        let long = format!("[{}1.2.3.4]", "0:".repeat(20));
        assert_eq!(
            reason(&long),
            Some((1, "IPv6 literal must be 2 to 45 characters"))
        );
        assert!(matches!(
            ServerName::parse("[::1]:99999"),
            Err(IdError::InvalidPort { .. })
        ));
        // Brackets only around IPv6.
        assert!(matches!(
            ServerName::parse("[example.org]"),
            Err(IdError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            ServerName::parse("::1"),
            Err(IdError::InvalidServerName { .. })
        ));
    }

    #[test]
    fn dns_names() {
        for text in [
            "a",
            "A-b.C",
            "localhost",
            "a..b",
            "example.com.",
            "-",
            "xn--bcher-kva.de",
        ] {
            assert!(ServerName::parse(text).is_ok(), "{text}");
        }
        assert_eq!(
            ServerName::parse("exa_mple.org"),
            Err(IdError::InvalidCharacter {
                character: '_',
                offset: 3
            })
        );
        assert_eq!(
            ServerName::parse("bücher.de"),
            Err(IdError::InvalidCharacter {
                character: 'ü',
                offset: 1
            })
        );
        assert_eq!(reason(":80"), Some((0, "empty hostname")));
        assert_eq!(ServerName::parse(""), Err(IdError::Empty));
    }

    #[test]
    fn dns_name_length_boundary() {
        let longest = "a".repeat(255);
        assert!(ServerName::parse(&longest).is_ok());
        assert_eq!(
            ServerName::parse(&format!("{longest}:65535"))
                .unwrap()
                .port(),
            Some(65535)
        );
        assert_eq!(
            reason(&"a".repeat(256)),
            Some((255, "DNS name longer than 255 characters"))
        );
        assert_eq!(
            ServerName::parse(&"a".repeat(262)),
            Err(IdError::TooLong { len: 262, max: 261 })
        );
    }

    #[test]
    fn case_sensitive() {
        let lower = ServerName::parse("matrix.org").unwrap();
        let upper = ServerName::parse("MATRIX.ORG").unwrap();
        assert_ne!(lower, upper);
        assert_eq!(upper, "MATRIX.ORG");
    }
}
