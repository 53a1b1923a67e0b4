//! The outbound IP policy (deny and allow ranges, against SSRF) and server ACLs
//! (<https://spec.matrix.org/v1.16/server-server-api/#server-access-control-lists-acls>).
//!
//! [`IpPolicy`] answers whether the caller may connect to an address it resolved for a
//! federation destination; by default it denies what Synapse's `ip_range_blacklist`
//! denies. [`ServerAcl`] (and the shortcut [`acl_allows`]) answers whether a server
//! may take part in a room under an `m.room.server_acl` event, with Synapse's reading
//! of the rules.
//!
//! ```
//! use std::net::IpAddr;
//! use matrix_serverlib::federation::net::{IpPolicy, acl_allows};
//! use matrix_serverlib::id::ServerName;
//! # use matrix_serverlib::json::{self, ParseOptions, Value};
//! # let acl = json::parse(br#"{"allow":["*"],"deny":["*.evil.com"]}"#, &ParseOptions::strict())?;
//! # let Value::Object(acl) = acl else { return Ok(()) };
//!
//! let policy = IpPolicy::default();
//! assert!(!policy.allows("127.0.0.1".parse::<IpAddr>()?));
//! assert!(policy.allows("93.184.216.34".parse::<IpAddr>()?));
//!
//! assert!(acl_allows(&acl, &ServerName::parse("matrix.org")?));
//! assert!(!acl_allows(&acl, &ServerName::parse("a.evil.com:8448")?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::id::ServerName;
use crate::json::{Object, Value};

/// The ranges [`IpPolicy::default`] denies: Synapse's `DEFAULT_IP_RANGE_BLOCKLIST`
/// (element-hq/synapse `synapse/config/server.py`, v1.157.1), followed by `0.0.0.0`
/// and `::`, which Synapse's `generate_ip_set` adds to every deny list.
///
/// - loopback `127.0.0.0/8`; private `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`;
///   carrier-grade NAT `100.64.0.0/10`; the IETF registry `192.0.0.0/24`; link-local
///   `169.254.0.0/16`; the former 6to4 relay `192.88.99.0/24`; testing `198.18.0.0/15`,
///   `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`; multicast `224.0.0.0/4`;
/// - loopback `::1/128`; link-local `fe80::/10`; unique local `fc00::/7`; documentation
///   `2001:db8::/32`; multicast `ff00::/8`; site-local `fec0::/10`.
pub const DEFAULT_DENY: [&str; 21] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "169.254.0.0/16",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "2001:db8::/32",
    "ff00::/8",
    "fec0::/10",
    "0.0.0.0/32",
    "::/128",
];

/// Why a CIDR range did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("{text:?} is not an IP address")]
    InvalidAddress {
        /// The address part as given.
        text: String,
    },
    /// The prefix length is not a decimal number.
    #[error("{text:?} is not a prefix length")]
    InvalidPrefix {
        /// The prefix part as given.
        text: String,
    },
    /// The prefix length is longer than the address.
    #[error("prefix length {prefix} is over {max}")]
    PrefixTooLong {
        /// The prefix length given.
        prefix: u8,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

/// A range of IP addresses: an address and a prefix length, such as `10.0.0.0/8` or
/// `::1/128`.
///
/// Bits of the address past the prefix are cleared, as Synapse's `netaddr` does
/// (`10.1.2.3/8` is `10.0.0.0/8`). An address without a prefix is a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The range of `prefix` leading bits of `address`.
    ///
    /// # Errors
    ///
    /// [`NetError::PrefixTooLong`] when `prefix` is over 32 (IPv4) or 128 (IPv6).
    pub fn new(address: IpAddr, prefix: u8) -> Result<Self, NetError> {
        let max = max_prefix(address);
        if prefix > max {
            return Err(NetError::PrefixTooLong { prefix, max });
        }
        let network = match address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(prefix))),
        };
        Ok(Self { network, prefix })
    }

    /// The first address of the range.
    #[must_use]
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    #[must_use]
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` lies in the range (an IPv4 range holds no IPv6 address, nor the
    /// reverse; [`IpPolicy`] handles IPv4 embedded in IPv6).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = NetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| NetError::InvalidAddress {
            text: address.to_owned(),
        })?;
        let prefix = match prefix {
            None => max_prefix(address),
            Some(prefix) => parse_prefix(prefix)?,
        };
        Self::new(address, prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Which addresses the caller may connect to for federation: an address is refused
/// when a `deny` range holds it and no `allow` range does (allow overrides deny), as
/// Synapse's `ip_range_blacklist` and `ip_range_whitelist` work.
///
/// An IPv6 address that embeds an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, or 6to4 `2002:aabb:ccdd::/48`) is also judged by its
/// IPv4 address against the IPv4 ranges: Synapse adds those three IPv6 forms of
/// every IPv4 range to its sets, which is the same test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpPolicy {
    /// The ranges refused.
    pub deny: Vec<Cidr>,
    /// The ranges allowed even when a deny range holds them.
    pub allow: Vec<Cidr>,
}

impl IpPolicy {
    /// A policy with these ranges.
    #[must_use]
    pub fn new(deny: Vec<Cidr>, allow: Vec<Cidr>) -> Self {
        Self { deny, allow }
    }

    /// True when the caller may connect to `ip`.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        !holds(&self.deny, ip) || holds(&self.allow, ip)
    }
}

impl Default for IpPolicy {
    /// [`DEFAULT_DENY`], nothing allowed over it.
    fn default() -> Self {
        let deny = DEFAULT_DENY
            .iter()
            .filter_map(|range| range.parse().ok())
            .collect();
        Self::new(deny, Vec::new())
    }
}

/// True when a range in `ranges` holds `ip`, or the IPv4 address it embeds.
fn holds(ranges: &[Cidr], ip: IpAddr) -> bool {
    let embedded = match ip {
        IpAddr::V4(_) => None,
        IpAddr::V6(v6) => embedded_ipv4(v6),
    };
    ranges.iter().any(|range| {
        range.contains(ip) || embedded.is_some_and(|v4| range.contains(IpAddr::V4(v4)))
    })
}

/// The IPv4 address in an IPv4-mapped, IPv4-compatible or 6to4 IPv6 address.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    // The casts keep the low 32 bits of the shifted value on purpose.
    let mapped_or_compatible = bits >> 32 == 0xffff || bits >> 32 == 0;
    if mapped_or_compatible {
        return Some(Ipv4Addr::from(bits as u32));
    }
    if bits >> 112 == 0x2002 {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn parse_prefix(text: &str) -> Result<u8, NetError> {
    let invalid = || NetError::InvalidPrefix {
        text: text.to_owned(),
    };
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// The rules of an `m.room.server_acl` event's content, read once.
///
/// Read as Synapse reads it (`server_acl_evaluator_from_event`): `allow_ip_literals`
/// that is not a boolean counts as `true`; an `allow` or `deny` that is not an array
/// counts as empty; entries that are not strings are ignored. With no `allow` list
/// nothing is allowed, as the spec says and Synapse does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAcl {
    allow_ip_literals: bool,
    allow: Vec<Vec<char>>,
    deny: Vec<Vec<char>>,
}

impl ServerAcl {
    /// The rules of `content`, the content of an `m.room.server_acl` event.
    #[must_use]
    pub fn from_content(content: &Object) -> Self {
        let globs = |key: &str| -> Vec<Vec<char>> {
            content
                .get(key)
                .and_then(Value::as_array)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .map(|glob| glob.chars().collect())
                .collect()
        };
        Self {
            allow_ip_literals: content
                .get("allow_ip_literals")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            allow: globs("allow"),
            deny: globs("deny"),
        }
    }

    /// True when `server` may take part in the room, by the spec's order: its port is
    /// not considered; an IP literal (IPv4, or bracketed IPv6) is refused when
    /// `allow_ip_literals` is `false`; a match in `deny` refuses; a match in `allow`
    /// allows; anything else is refused.
    ///
    /// The globs (`*` any run, `?` one character) match the whole hostname, ignoring
    /// case, as Synapse's case-insensitive regular expressions do. Matching takes at
    /// most (hostname length + 1) × (glob length + 1) steps per entry: no backtracking
    /// blow-up on globs such as `*a*a*a*b`.
    ///
    /// Where Synapse and the grammar differ: a hostname of four groups of one to three
    /// digits with leading zeros (`010.0.0.1`) is an IPv4 literal by the server-name
    /// grammar, and refused here when IP literals are; Synapse's check
    /// (`Ipv4Addr::from_str`) would not call it one.
    #[must_use]
    pub fn allows(&self, server: &ServerName) -> bool {
        let host = server.host().as_bytes();
        if !self.allow_ip_literals && super::resolve::ip_literal(server.host()).is_some() {
            return false;
        }
        if self.deny.iter().any(|glob| glob_matches(glob, host)) {
            return false;
        }
        self.allow.iter().any(|glob| glob_matches(glob, host))
    }
}

/// True when `server` may take part in a room whose `m.room.server_acl` event has
/// `content`; see [`ServerAcl::allows`]. A room without a server ACL event allows
/// every server: the caller does not call this then.
#[must_use]
pub fn acl_allows(content: &Object, server: &ServerName) -> bool {
    ServerAcl::from_content(content).allows(server)
}

/// Whole-string glob match, ignoring case: the greedy algorithm that remembers only
/// the last `*`, linear in the name for each restart, so at most
/// `(name.len() + 1) * (glob.len() + 1)` steps.
fn glob_matches(glob: &[char], name: &[u8]) -> bool {
    let (mut g, mut n) = (0, 0);
    // After the last `*` seen: the glob position following it, and the name position
    // it has absorbed up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&byte) = name.get(n) {
        match glob.get(g) {
            Some('*') => {
                star = Some((g + 1, n));
                g += 1;
            }
            Some(&c) if c == '?' || char_matches(c, byte) => {
                g += 1;
                n += 1;
            }
            _ => match star {
                Some((after_star, absorbed)) => {
                    star = Some((after_star, absorbed + 1));
                    g = after_star;
                    n = absorbed + 1;
                }
                None => return false,
            },
        }
    }
    glob.get(g..).unwrap_or_default().iter().all(|&c| c == '*')
}

/// Case-insensitive comparison of a glob character with a hostname byte (ASCII). Two
/// non-ASCII characters fold to ASCII letters in Unicode simple case folding, which
/// Synapse's regular expressions apply: KELVIN SIGN to `k` and LONG S to `s`.
fn char_matches(c: char, byte: u8) -> bool {
    let folded = match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        other => other,
    };
    folded.is_ascii() && (folded as u8).eq_ignore_ascii_case(&byte)
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
