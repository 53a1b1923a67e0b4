use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::test_util::object;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn cidr(text: &str) -> Cidr {
    text.parse().unwrap()
}

fn server(text: &str) -> ServerName {
    ServerName::parse(text).unwrap()
}

#[test]
fn cidr_parsing() {
    let range = cidr("10.0.0.0/8");
    assert_eq!(range.network(), ip("10.0.0.0"));
    assert_eq!(range.prefix(), 8);
    assert_eq!(cidr("::1/128").to_string(), "::1/128");
    assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
    assert_eq!(cidr("1.2.3.4").prefix(), 32);
    assert_eq!(cidr("fe80::1").prefix(), 128);
    assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
    assert_eq!(
        "10.0.0.0/33".parse::<Cidr>(),
        Err(NetError::PrefixTooLong {
            prefix: 33,
            max: 32
        })
    );
    assert_eq!(
        "::/129".parse::<Cidr>(),
        Err(NetError::PrefixTooLong {
            prefix: 129,
            max: 128
        })
    );
    for bad in [
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        "10.0.0.0/1000",
        "::/-1",
    ] {
        assert!(
            matches!(bad.parse::<Cidr>(), Err(NetError::InvalidPrefix { .. })),
            "{bad}"
        );
    }
    for bad in ["", "10.0.0/8", "example.com/8", "[::1]/128", "1.2.3.4.5"] {
        assert!(
            matches!(bad.parse::<Cidr>(), Err(NetError::InvalidAddress { .. })),
            "{bad}"
        );
    }
}

#[test]
fn cidr_contains() {
    let range = cidr("172.16.0.0/12");
    assert!(range.contains(ip("172.16.0.1")));
    assert!(range.contains(ip("172.31.255.255")));
    assert!(!range.contains(ip("172.32.0.0")));
    assert!(!range.contains(ip("::ffff:172.16.0.1")), "families differ");
    assert!(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
    assert!(cidr("fc00::/7").contains(ip("fdff::1")));
    assert!(!cidr("fc00::/7").contains(ip("fe00::1")));
}

#[test]
fn default_policy_matches_synapse_list() {
    let policy = IpPolicy::default();
    assert_eq!(policy.deny.len(), DEFAULT_DENY.len());
    for denied in [
        "127.0.0.1",
        "10.20.30.40",
        "172.16.5.5",
        "192.168.1.1",
        "100.64.0.1",
        "192.0.0.8",
        "169.254.169.254",
        "192.88.99.1",
        "198.19.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "ff02::1",
        "fec0::1",
    ] {
        assert!(!policy.allows(ip(denied)), "{denied}");
    }
    for allowed in [
        "8.8.8.8",
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "2001:db9::1",
        "0.0.0.1",
    ] {
        assert!(policy.allows(ip(allowed)), "{allowed}");
    }
}

#[test]
fn embedded_ipv4_is_judged_as_ipv4() {
    let policy = IpPolicy::default();
    // IPv4-mapped, IPv4-compatible and 6to4 forms of 127.0.0.1 and 10.0.0.1.
    for denied in [
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "::10.0.0.1",
        "2002:7f00:1::",
        "2002:a00:1:1234::5",
    ] {
        assert!(!policy.allows(ip(denied)), "{denied}");
    }
    for allowed in ["::ffff:8.8.8.8", "::8.8.8.8", "2002:808:808::1"] {
        assert!(policy.allows(ip(allowed)), "{allowed}");
    }
}

#[test]
fn allow_overrides_deny() {
    let policy = IpPolicy::new(
        vec![cidr("127.0.0.0/8"), cidr("10.0.0.0/8")],
        vec![cidr("127.0.0.1/32")],
    );
    assert!(policy.allows(ip("127.0.0.1")));
    assert!(
        policy.allows(ip("::ffff:127.0.0.1")),
        "the allow range embeds too"
    );
    assert!(!policy.allows(ip("127.0.0.2")));
    assert!(!policy.allows(ip("10.0.0.1")));
    assert!(policy.allows(ip("11.0.0.1")));
    let empty = IpPolicy::new(Vec::new(), Vec::new());
    assert!(empty.allows(ip("127.0.0.1")));
}

#[test]
fn acl_spec_order() {
    let acl = object(
        r#"{"allow_ip_literals": false, "allow": ["*"], "deny": ["evil.com", "*.evil.com"]}"#,
    );
    assert!(acl_allows(&acl, &server("matrix.org")));
    assert!(acl_allows(&acl, &server("matrix.org:8448")));
    assert!(!acl_allows(&acl, &server("evil.com")));
    assert!(!acl_allows(&acl, &server("evil.com:1234")), "port stripped");
    assert!(!acl_allows(&acl, &server("sub.evil.com")));
    assert!(acl_allows(&acl, &server("notevil.com")));
    for literal in [
        "1.2.3.4",
        "1.2.3.4:8448",
        "[::1]",
        "[2001:db8::1]:8448",
        "010.0.0.1",
    ] {
        assert!(!acl_allows(&acl, &server(literal)), "{literal}");
    }
}

#[test]
fn acl_ip_literals_default_to_allowed() {
    let acl = object(r#"{"allow": ["*"]}"#);
    assert!(acl_allows(&acl, &server("1.2.3.4")));
    assert!(acl_allows(&acl, &server("[::1]:8448")));
    // Not a boolean: counts as true (Synapse).
    let acl = object(r#"{"allow": ["*"], "allow_ip_literals": "false"}"#);
    assert!(acl_allows(&acl, &server("1.2.3.4")));
    // Five groups of digits is a DNS name, not an IPv4 literal.
    let acl = object(r#"{"allow": ["*"], "allow_ip_literals": false}"#);
    assert!(acl_allows(&acl, &server("1.2.3.4.5")));
}

#[test]
fn acl_without_allow_refuses_everything() {
    for content in [
        r#"{}"#,
        r#"{"deny": []}"#,
        r#"{"allow": "*"}"#,
        r#"{"allow": [1, null]}"#,
    ] {
        let acl = object(content);
        assert!(!acl_allows(&acl, &server("matrix.org")), "{content}");
    }
}

#[test]
fn acl_ignores_non_string_entries() {
    let acl = object(r#"{"allow": [1, {"a": 2}, "good.org", true], "deny": [null, "bad.org", 3]}"#);
    assert!(acl_allows(&acl, &server("good.org")));
    assert!(!acl_allows(&acl, &server("bad.org")));
    assert!(!acl_allows(&acl, &server("other.org")));
    // A deny that is not a list is empty.
    let acl = object(r#"{"allow": ["*"], "deny": "matrix.org"}"#);
    assert!(acl_allows(&acl, &server("matrix.org")));
}

#[test]
fn acl_deny_beats_allow() {
    let acl = object(r#"{"allow": ["matrix.org"], "deny": ["matrix.org"]}"#);
    assert!(!acl_allows(&acl, &server("matrix.org")));
}

#[test]
fn acl_globs() {
    let cases = [
        ("*", "anything.example", true),
        ("*.org", "matrix.org", true),
        ("*.org", "matrix.com", false),
        ("matrix.???", "matrix.org", true),
        ("matrix.???", "matrix.info", false),
        ("?", "a", true),
        ("?", "ab", false),
        ("m*x.org", "matrix.org", true),
        ("m*x.org", "mx.org", true),
        ("m*x.org", "max.or", false),
        ("**a", "a", true),
        ("*a*b", "xaxxb", true),
        ("*a*b", "xaxxbx", false),
        ("MATRIX.ORG", "matrix.org", true),
        ("matrix.org", "MaTrIx.OrG", true),
        ("\u{212A}ey.org", "key.org", true),
        ("ma\u{017F}k.org", "mask.org", true),
        ("é.org", "e.org", false),
        ("", "a", false),
        ("matrix", "matrix.org", false),
        ("org", "matrix.org", false),
    ];
    for (glob, name, expected) in cases {
        let acl = object(&format!(r#"{{"allow": ["{glob}"]}}"#));
        assert_eq!(
            acl_allows(&acl, &server(name)),
            expected,
            "{glob} vs {name}"
        );
    }
}

#[test]
fn acl_glob_has_no_backtracking_blowup() {
    let glob: Vec<char> = "*a".repeat(200).chars().chain("*b".chars()).collect();
    let name = "a".repeat(255);
    // Exponential backtracking would not finish; the greedy matcher is quadratic at most.
    assert!(!glob_matches(&glob, name.as_bytes()));
    let mut matching = name.clone();
    matching.replace_range(254.., "b");
    let short: Vec<char> = "*a*a*a*b".chars().collect();
    assert!(glob_matches(&short, matching.as_bytes()));
}

/// A reference matcher by dynamic programming.
fn reference_glob(glob: &[char], name: &[u8]) -> bool {
    let mut table = vec![vec![false; name.len() + 1]; glob.len() + 1];
    table[0][0] = true;
    for g in 1..=glob.len() {
        if glob[g - 1] == '*' {
            table[g][0] = table[g - 1][0];
        }
        for n in 1..=name.len() {
            table[g][n] = match glob[g - 1] {
                '*' => table[g - 1][n] || table[g][n - 1],
                '?' => table[g - 1][n - 1],
                c => table[g - 1][n - 1] && char_matches(c, name[n - 1]),
            };
        }
    }
    table[glob.len()][name.len()]
}

proptest! {
    #[test]
    fn glob_agrees_with_reference(glob in "[ab*?.]{0,12}", name in "[abAB.]{0,12}") {
        let glob: Vec<char> = glob.chars().collect();
        prop_assert_eq!(
            glob_matches(&glob, name.as_bytes()),
            reference_glob(&glob, name.as_bytes())
        );
    }

    #[test]
    fn allow_overrides_deny_law(a in any::<u32>(), deny_prefix in 0u8..=32, allow_prefix in 0u8..=32) {
        let address = IpAddr::V4(a.into());
        let range = |prefix| Cidr::new(address, prefix).unwrap();
        let policy = IpPolicy::new(vec![range(deny_prefix)], vec![range(allow_prefix)]);
        prop_assert!(policy.allows(address));
        let deny_only = IpPolicy::new(vec![range(deny_prefix)], Vec::new());
        prop_assert!(!deny_only.allows(address));
    }
}
