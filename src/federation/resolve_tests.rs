use super::*;

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn name(text: &str) -> ServerName {
    ServerName::parse(text).unwrap()
}

fn ok_body(server: &str) -> WellKnownFetch {
    let body = format!(r#"{{"m.server": "{server}"}}"#).into_bytes();
    WellKnownFetch::Response(WellKnownResponse::new(200, body))
}

fn response(status: u16, body: &[u8]) -> WellKnownFetch {
    WellKnownFetch::Response(WellKnownResponse::new(status, body.to_vec()))
}

fn records(targets: &[(&str, u16)]) -> SrvAnswer {
    SrvAnswer::Records(
        targets
            .iter()
            .map(|&(target, port)| SrvRecord::new(10, 0, port, target))
            .collect(),
    )
}

/// Runs the resolver with scripted answers: the well-known answer (if asked) and the
/// SRV answers in order, checking the SRV names asked for.
fn run(
    server: &str,
    well_known: Option<WellKnownFetch>,
    srv: Vec<(&str, SrvAnswer)>,
) -> Result<Resolved, ResolveError> {
    let mut resolver = ServerResolver::new(&name(server), NOW);
    let mut well_known = well_known;
    let mut srv = srv.into_iter();
    for _ in 0..4 {
        match resolver.poll() {
            ResolveStep::FetchWellKnown {
                url,
                max_body,
                max_redirects,
            } => {
                assert_eq!(url, format!("https://{server}/.well-known/matrix/server"));
                assert_eq!(max_body, MAX_WELL_KNOWN_BODY);
                assert_eq!(max_redirects, MAX_WELL_KNOWN_REDIRECTS);
                let answer = well_known.take().expect("well-known not scripted");
                resolver.provide_well_known(answer).unwrap();
            }
            ResolveStep::LookupSrv { name } => {
                let (expected, answer) = srv.next().expect("SRV not scripted");
                assert_eq!(name, expected);
                resolver.provide_srv(answer).unwrap();
            }
            ResolveStep::Done(resolved) => {
                assert!(well_known.is_none(), "well-known scripted, not asked");
                assert!(srv.next().is_none(), "SRV scripted, not asked");
                return Ok(resolved);
            }
            ResolveStep::Failed(error) => return Err(error),
        }
    }
    panic!("more than three questions")
}

fn numbers(resolved: &Resolved) -> Vec<&'static str> {
    resolved.steps.iter().map(|step| step.number()).collect()
}

fn only(resolved: &Resolved) -> (ConnectHost, u16) {
    assert_eq!(resolved.candidates.len(), 1);
    let candidate = &resolved.candidates[0];
    (candidate.host.clone(), candidate.port)
}

fn ip(text: &str) -> ConnectHost {
    ConnectHost::Ip(text.parse().unwrap())
}

fn host(text: &str) -> ConnectHost {
    ConnectHost::Name(text.to_owned())
}

#[test]
fn every_step() {
    struct Case {
        server: &'static str,
        well_known: Option<WellKnownFetch>,
        srv: Vec<(&'static str, SrvAnswer)>,
        steps: &'static [&'static str],
        connect: (ConnectHost, u16),
        host_header: &'static str,
        tls: Option<&'static str>,
    }
    let cases = vec![
        // 1: IP literals, with and without port; no well-known, no SRV, no SNI.
        Case {
            server: "1.2.3.4",
            well_known: None,
            srv: vec![],
            steps: &["1"],
            connect: (ip("1.2.3.4"), 8448),
            host_header: "1.2.3.4",
            tls: None,
        },
        Case {
            server: "1.2.3.4:8008",
            well_known: None,
            srv: vec![],
            steps: &["1"],
            connect: (ip("1.2.3.4"), 8008),
            host_header: "1.2.3.4:8008",
            tls: None,
        },
        Case {
            server: "[2001:db8::1]",
            well_known: None,
            srv: vec![],
            steps: &["1"],
            connect: (ip("2001:db8::1"), 8448),
            host_header: "[2001:db8::1]",
            tls: None,
        },
        Case {
            server: "[::1]:8448",
            well_known: None,
            srv: vec![],
            steps: &["1"],
            connect: (ip("::1"), 8448),
            host_header: "[::1]:8448",
            tls: None,
        },
        // 2: explicit port.
        Case {
            server: "example.org:8449",
            well_known: None,
            srv: vec![],
            steps: &["2"],
            connect: (host("example.org"), 8449),
            host_header: "example.org:8449",
            tls: Some("example.org"),
        },
        // 3.1: delegated IP literal, with and without port.
        Case {
            server: "example.org",
            well_known: Some(ok_body("5.6.7.8")),
            srv: vec![],
            steps: &["3", "3.1"],
            connect: (ip("5.6.7.8"), 8448),
            host_header: "5.6.7.8",
            tls: None,
        },
        Case {
            server: "example.org",
            well_known: Some(ok_body("[2001:db8::2]:443")),
            srv: vec![],
            steps: &["3", "3.1"],
            connect: (ip("2001:db8::2"), 443),
            host_header: "[2001:db8::2]:443",
            tls: None,
        },
        // 3.2: delegated hostname with port.
        Case {
            server: "example.org",
            well_known: Some(ok_body("matrix.example.org:443")),
            srv: vec![],
            steps: &["3", "3.2"],
            connect: (host("matrix.example.org"), 443),
            host_header: "matrix.example.org:443",
            tls: Some("matrix.example.org"),
        },
        // 3.3: delegated hostname, SRV found: Host and certificate are the delegated
        // name, not the target.
        Case {
            server: "example.org",
            well_known: Some(ok_body("matrix.example.org")),
            srv: vec![(
                "_matrix-fed._tcp.matrix.example.org",
                records(&[("target.example.net.", 8000)]),
            )],
            steps: &["3", "3.3"],
            connect: (host("target.example.net"), 8000),
            host_header: "matrix.example.org",
            tls: Some("matrix.example.org"),
        },
        // 3.4: the deprecated SRV name.
        Case {
            server: "example.org",
            well_known: Some(ok_body("matrix.example.org")),
            srv: vec![
                ("_matrix-fed._tcp.matrix.example.org", SrvAnswer::NotFound),
                (
                    "_matrix._tcp.matrix.example.org",
                    records(&[("old.example.net", 8001)]),
                ),
            ],
            steps: &["3", "3.3", "3.4"],
            connect: (host("old.example.net"), 8001),
            host_header: "matrix.example.org",
            tls: Some("matrix.example.org"),
        },
        // 3.5: no SRV for the delegated name.
        Case {
            server: "example.org",
            well_known: Some(ok_body("matrix.example.org")),
            srv: vec![
                ("_matrix-fed._tcp.matrix.example.org", SrvAnswer::NotFound),
                (
                    "_matrix._tcp.matrix.example.org",
                    SrvAnswer::Records(vec![]),
                ),
            ],
            steps: &["3", "3.3", "3.4", "3.5"],
            connect: (host("matrix.example.org"), 8448),
            host_header: "matrix.example.org",
            tls: Some("matrix.example.org"),
        },
        // 4: well-known error, SRV on the original hostname: its certificate.
        Case {
            server: "example.org",
            well_known: Some(response(404, b"not found")),
            srv: vec![(
                "_matrix-fed._tcp.example.org",
                records(&[("srv.example.net", 8002)]),
            )],
            steps: &["3", "4"],
            connect: (host("srv.example.net"), 8002),
            host_header: "example.org",
            tls: Some("example.org"),
        },
        // 5: the deprecated SRV name on the original hostname.
        Case {
            server: "example.org",
            well_known: Some(WellKnownFetch::Failed),
            srv: vec![
                ("_matrix-fed._tcp.example.org", SrvAnswer::NotFound),
                (
                    "_matrix._tcp.example.org",
                    records(&[("legacy.example.net", 8003)]),
                ),
            ],
            steps: &["3", "4", "5"],
            connect: (host("legacy.example.net"), 8003),
            host_header: "example.org",
            tls: Some("example.org"),
        },
        // 6: nothing: the hostname at 8448.
        Case {
            server: "example.org",
            well_known: Some(WellKnownFetch::Failed),
            srv: vec![
                ("_matrix-fed._tcp.example.org", SrvAnswer::NotFound),
                ("_matrix._tcp.example.org", SrvAnswer::NotFound),
            ],
            steps: &["3", "4", "5", "6"],
            connect: (host("example.org"), 8448),
            host_header: "example.org",
            tls: Some("example.org"),
        },
    ];
    for case in cases {
        let label = case.server;
        let resolved = run(case.server, case.well_known, case.srv).unwrap();
        assert_eq!(numbers(&resolved), case.steps, "{label}");
        assert_eq!(only(&resolved), case.connect, "{label}");
        assert_eq!(resolved.host_header, case.host_header, "{label}");
        assert_eq!(resolved.tls_server_name.as_deref(), case.tls, "{label}");
        assert!(resolved.cache_until_ms > NOW, "{label}");
    }
}

/// Every invalid well-known answer falls back to SRV on the original hostname (step 4),
/// cached for an hour.
#[test]
fn invalid_well_known_falls_back_to_srv() {
    let big = {
        let mut body = br#"{"m.server": "matrix.example.org", "pad": ""#.to_vec();
        body.resize(60_000, b'a');
        body.extend_from_slice(br#""}"#);
        body
    };
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let cases: Vec<(WellKnownFetch, WellKnownError)> = vec![
        (WellKnownFetch::Failed, WellKnownError::Failed),
        (
            response(500, br#"{"m.server": "a.org"}"#),
            WellKnownError::Status { status: 500 },
        ),
        (
            response(301, br#"{"m.server": "a.org"}"#),
            WellKnownError::Status { status: 301 },
        ),
        (
            response(200, &big),
            WellKnownError::TooLarge {
                len: big.len(),
                max: MAX_WELL_KNOWN_BODY,
            },
        ),
        (response(200, br#"["m.server"]"#), WellKnownError::NotObject),
        (response(200, br#"{}"#), WellKnownError::MissingServer),
        (
            response(200, br#"{"m.server": 12}"#),
            WellKnownError::MissingServer,
        ),
        (
            response(200, br#"{"m.server": "bad name!"}"#),
            WellKnownError::InvalidServer {
                value: "bad name!".into(),
            },
        ),
        (
            response(200, br#"{"m.server": ""}"#),
            WellKnownError::InvalidServer { value: "".into() },
        ),
        (
            response(200, br#"{"m.server": "a.org:99999"}"#),
            WellKnownError::InvalidServer {
                value: "a.org:99999".into(),
            },
        ),
    ];
    for (fetch, expected) in cases {
        let resolved = run(
            "example.org",
            Some(fetch),
            vec![(
                "_matrix-fed._tcp.example.org",
                records(&[("srv.example.net", 8002)]),
            )],
        )
        .unwrap();
        assert_eq!(numbers(&resolved), ["3", "4"]);
        assert_eq!(resolved.well_known_error, Some(expected));
        assert_eq!(resolved.tls_server_name.as_deref(), Some("example.org"));
        assert_eq!(resolved.cache_until_ms, NOW + ERROR_CACHE_MS);
        assert_eq!(resolved.delegated, None);
    }
    for body in [&b"{not json"[..], b"\xff\xfe", deep.as_bytes()] {
        let resolved = run(
            "example.org",
            Some(response(200, body)),
            vec![
                ("_matrix-fed._tcp.example.org", SrvAnswer::NotFound),
                ("_matrix._tcp.example.org", SrvAnswer::NotFound),
            ],
        )
        .unwrap();
        assert!(matches!(
            resolved.well_known_error,
            Some(WellKnownError::NotJson(_))
        ));
        assert_eq!(numbers(&resolved), ["3", "4", "5", "6"]);
    }
}

#[test]
fn well_known_cache_periods() {
    let with = |cache_control: Option<&str>, expires: Option<&str>| {
        let mut response = WellKnownResponse::new(200, br#"{"m.server": "a.org:1"}"#.to_vec());
        response.cache_control = cache_control.map(str::to_owned);
        response.expires = expires.map(str::to_owned);
        parse_well_known(&WellKnownFetch::Response(response), NOW)
            .unwrap()
            .1
    };
    assert_eq!(with(None, None), DEFAULT_CACHE_MS);
    assert_eq!(with(Some("max-age=3600"), None), HOUR);
    assert_eq!(with(Some("public, MAX-AGE = 7200"), None), 2 * HOUR);
    assert_eq!(with(Some("max-age=999999999"), None), MAX_CACHE_MS);
    // max-age=0, no-store and a past Expires are floored, as Synapse does.
    assert_eq!(with(Some("max-age=0"), None), MIN_CACHE_MS);
    assert_eq!(with(Some("no-store, max-age=3600"), None), MIN_CACHE_MS);
    let past = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(with(None, Some(past)), MIN_CACHE_MS);
    assert_eq!(with(None, Some("0")), MIN_CACHE_MS);
    // max-age wins over Expires; an unreadable max-age leaves Expires.
    assert_eq!(with(Some("max-age=3600"), Some(past)), HOUR);
    assert_eq!(with(Some("max-age=soon"), Some(past)), MIN_CACHE_MS);
    assert_eq!(with(Some("max-age"), None), DEFAULT_CACHE_MS);
    // 2023-11-14T22:13:20Z is NOW; ten hours later in each date form.
    for later in [
        "Wed, 15 Nov 2023 08:13:20 GMT",
        "Wednesday, 15-Nov-23 08:13:20 GMT",
        "Wed Nov 15 08:13:20 2023",
    ] {
        assert_eq!(with(None, Some(later)), 10 * HOUR, "{later}");
    }
    assert_eq!(
        with(None, Some("Thu, 01 Jan 2099 00:00:00 GMT")),
        MAX_CACHE_MS
    );
}

#[test]
fn cache_expiry_reaches_resolved() {
    let response = WellKnownResponse::new(200, br#"{"m.server": "a.org:1"}"#.to_vec())
        .with_cache_control("max-age=60");
    let resolved = run(
        "example.org",
        Some(WellKnownFetch::Response(response)),
        vec![],
    )
    .unwrap();
    assert_eq!(resolved.cache_until_ms, NOW + MIN_CACHE_MS);
    assert_eq!(resolved.delegated, Some(name("a.org:1")));
    let direct = run("example.org:1", None, vec![]).unwrap();
    assert_eq!(direct.cache_until_ms, NOW + DEFAULT_CACHE_MS);
}

#[test]
fn http_dates() {
    assert_eq!(parse_http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(
        parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777_000)
    );
    assert_eq!(
        parse_http_date_ms("Sun Nov  6 08:49:37 1994"),
        Some(784_111_777_000)
    );
    assert_eq!(
        parse_http_date_ms("Tue, 29 Feb 2000 12:00:00 GMT"),
        Some(951_825_600_000)
    );
    for bad in [
        "",
        "0",
        "yesterday",
        "Sun, 06 Nov 1994 25:00:00 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 19945 08:49:37 GMT",
    ] {
        assert_eq!(parse_http_date_ms(bad), None, "{bad}");
    }
}

#[test]
fn srv_target_dot_means_no_service() {
    let error = run(
        "example.org",
        Some(WellKnownFetch::Failed),
        vec![("_matrix-fed._tcp.example.org", records(&[(".", 0)]))],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ResolveError::ServiceUnavailable {
            service: "_matrix-fed._tcp.example.org".into()
        }
    );
    // A `.` among real targets is dropped.
    let resolved = run(
        "example.org",
        Some(ok_body("m.example.org")),
        vec![(
            "_matrix-fed._tcp.m.example.org",
            records(&[(".", 0), ("real.example.net", 9)]),
        )],
    )
    .unwrap();
    assert_eq!(only(&resolved), (host("real.example.net"), 9));
}

#[test]
fn srv_failure_and_unusable_records() {
    let error = run(
        "example.org",
        Some(ok_body("m.example.org")),
        vec![
            ("_matrix-fed._tcp.m.example.org", SrvAnswer::NotFound),
            ("_matrix._tcp.m.example.org", SrvAnswer::Failed),
        ],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ResolveError::SrvLookupFailed {
            service: "_matrix._tcp.m.example.org".into()
        }
    );
    // Records whose targets are not hostnames count as none.
    let resolved = run(
        "example.org",
        Some(WellKnownFetch::Failed),
        vec![
            (
                "_matrix-fed._tcp.example.org",
                records(&[("bad host", 1), ("x/y", 2)]),
            ),
            ("_matrix._tcp.example.org", SrvAnswer::NotFound),
        ],
    )
    .unwrap();
    assert_eq!(numbers(&resolved), ["3", "4", "5", "6"]);
}

#[test]
fn srv_priority_order() {
    let answer = SrvAnswer::Records(vec![
        SrvRecord::new(20, 0, 1, "c.example"),
        SrvRecord::new(10, 1, 2, "b.example"),
        SrvRecord::new(10, 5, 3, "a.example"),
        SrvRecord::new(5, 0, 4, "d.example"),
    ]);
    let resolved = run(
        "example.org",
        Some(WellKnownFetch::Failed),
        vec![("_matrix-fed._tcp.example.org", answer)],
    )
    .unwrap();
    let order: Vec<u16> = resolved.candidates.iter().map(|c| c.port).collect();
    assert_eq!(order, [4, 3, 2, 1]);
    assert_eq!(resolved.candidates[1].priority, 10);
    assert_eq!(resolved.candidates[1].weight, 5);
}

#[test]
fn seeded_weighted_order_is_deterministic_and_keeps_priorities() {
    let records: Vec<SrvRecord> = (0..6)
        .map(|i| SrvRecord::new(if i < 3 { 1 } else { 2 }, i * 10, i, "h.example"))
        .collect();
    let mut seen_first = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let a = order_srv(&records, Some(seed));
        assert_eq!(a, order_srv(&records, Some(seed)));
        let priorities: Vec<u16> = a.iter().map(|r| r.priority).collect();
        assert_eq!(priorities, [1, 1, 1, 2, 2, 2]);
        let mut ports: Vec<u16> = a.iter().map(|r| r.port).collect();
        seen_first.insert(ports[0]);
        ports.sort_unstable();
        assert_eq!(ports, [0, 1, 2, 3, 4, 5]);
    }
    // Weights 10 and 20 both win sometimes; weight 0 rarely, if ever, first.
    assert!(seen_first.contains(&1) && seen_first.contains(&2));
}

#[test]
fn misuse_is_refused() {
    let mut resolver = ServerResolver::new(&name("1.2.3.4"), NOW);
    assert!(matches!(
        resolver.provide_well_known(WellKnownFetch::Failed),
        Err(ResolveError::NotAsked {
            given: "well-known",
            state: "done"
        })
    ));
    let mut resolver = ServerResolver::new(&name("example.org"), NOW);
    assert!(matches!(
        resolver.provide_srv(SrvAnswer::NotFound),
        Err(ResolveError::NotAsked { given: "SRV", .. })
    ));
    // Polling twice asks the same.
    assert_eq!(resolver.poll(), resolver.poll());
}

#[test]
fn ip_literals() {
    assert_eq!(ip_literal("1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
    assert_eq!(
        ip_literal("001.002.003.004"),
        Some("1.2.3.4".parse().unwrap())
    );
    assert_eq!(ip_literal("[::1]"), Some("::1".parse().unwrap()));
    for not in [
        "1.2.3",
        "1.2.3.4.5",
        "a.b.c.d",
        "1.2.3.256",
        "[::1",
        "::1",
        "example.org",
    ] {
        assert_eq!(ip_literal(not), None, "{not}");
    }
}
