//! Tests of the homeserver against a hostile client: a login flood, rate limits, slow
//! and oversized requests, bursts of registrations, `/sync` long-polls and room
//! creation, reused transaction IDs, profile updates, and the errors the framework
//! itself makes. They drive the router in-process, and a real listener on a loopback
//! port for the connection-level limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::app::App;
use crate::config::Config;
use crate::http::ClientAddr;
use crate::limits::{HttpLimits, RateLimits};
use crate::storage::Storage;

const SERVER: &str = "test.example";

/// A server with an empty database in a fresh directory, and its router.
struct Server {
    app: App,
    router: Router,
    dir: PathBuf,
}

impl Server {
    fn new(rate_limits: RateLimits) -> Self {
        Self::with_http(rate_limits, HttpLimits::default())
    }

    fn with_http(rate_limits: RateLimits, http: HttpLimits) -> Self {
        let dir =
            std::env::temp_dir().join(format!("homeserver-hostile-{}", crate::random_string(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), SERVER, dir.clone());
        config.rate_limits = rate_limits;
        config.http = http;
        let key = matrix_serverlib::crypto::SigningKey::from_seed("ed25519:test", [9; 32]);
        let appservices = crate::appservice::load(&[], SERVER).unwrap();
        let app = App::new(config, key, Storage::open(&dir).unwrap(), None, appservices);
        let router = crate::router(app.clone());
        Self { app, router, dir }
    }

    /// Calls the router as `from`, with an optional token and JSON body.
    async fn call_from(
        &self,
        from: IpAddr,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
        let mut request = request.body(body).unwrap();
        request.extensions_mut().insert(ClientAddr(from));
        let response = self.router.clone().oneshot(request).await.unwrap();
        decode(response).await
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_from(LOCAL, method, uri, token, body).await
    }

    /// Registers `name` (password `secret`) and returns its access token.
    async fn register(&self, name: &str) -> String {
        let body =
            json!({ "username": name, "password": "secret", "auth": { "type": "m.login.dummy" } });
        let (status, body) = self
            .call("POST", "/_matrix/client/v3/register", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn create_room(&self, token: &str, extra: Value) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/_matrix/client/v3/createRoom",
                Some(token),
                Some(extra),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["room_id"].as_str().unwrap().to_owned()
    }

    async fn send(
        &self,
        token: &str,
        room: &str,
        event_type: &str,
        txn: &str,
    ) -> (StatusCode, Value) {
        let uri = format!("/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}");
        self.call(
            "PUT",
            &uri,
            Some(token),
            Some(json!({ "msgtype": "m.text", "body": txn })),
        )
        .await
    }

    async fn login(&self, from: IpAddr, user: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "type": "m.login.password", "user": user, "password": password });
        self.call_from(from, "POST", "/_matrix/client/v3/login", None, Some(body))
            .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

async fn decode(response: axum::response::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

fn assert_limited(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["errcode"], "M_LIMIT_EXCEEDED", "{body}");
    assert!(
        body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{body}"
    );
}

// --- finding 1: login flood, rate limits --------------------------------------------

/// Many wrong-password logins at once hash at most one per core (so memory stays at
/// cores × 19 MiB), and a `whoami` meanwhile is answered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_hashes_one_per_core_and_others_are_served() {
    let server = Server::new(RateLimits::OFF);
    let token = server.register("alice").await;
    let mut logins = Vec::new();
    for _ in 0..12 {
        let router = server.router.clone();
        logins.push(tokio::spawn(async move {
            let body = json!({ "type": "m.login.password", "user": "alice", "password": "wrong" });
            let request = Request::post("/_matrix/client/v3/login")
                .body(Body::from(body.to_string()))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    let (status, body) = server
        .call(
            "GET",
            "/_matrix/client/v3/account/whoami",
            Some(&token),
            None,
        )
        .await;
    let whoami = start.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    for login in logins {
        assert_eq!(login.await.unwrap(), StatusCode::FORBIDDEN);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let peak = server.app.hasher().peak();
    let pooled = server.app.hasher().pooled();
    assert!(
        pooled <= cores,
        "{pooled} working memories kept for {cores} cores"
    );
    assert!(
        peak >= 1 && peak <= cores,
        "{peak} hashes at once on {cores} cores"
    );
    assert!(whoami < Duration::from_secs(2), "whoami took {whoami:?}");
}

/// Synapse's `rc_login`: three failed attempts per account, then 429; five attempts
/// per address, then 429; other addresses and accounts unaffected.
#[tokio::test]
async fn logins_are_rate_limited_per_account_and_address() {
    let server = Server::new(RateLimits::default());
    server.register("alice").await;
    for attempt in 0..3 {
        let (status, body) = server.login(addr(attempt + 1), "alice", "wrong").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = server.login(addr(9), "alice", "secret").await;
    assert_limited(status, &body);

    for n in 0..5 {
        let (status, body) = server.login(addr(20), &format!("nobody{n}"), "x").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = server.login(addr(20), "nobody9", "x").await;
    assert_limited(status, &body);
    let (status, _) = server.login(addr(21), "nobody9", "x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A burst of registrations from one address: Synapse's `rc_registration` allows
/// three, then 429; another address still registers.
#[tokio::test]
async fn a_burst_of_registrations_is_limited_per_address() {
    let server = Server::new(RateLimits::default());
    let register = |name: &str, from: IpAddr| {
        let body =
            json!({ "username": name, "password": "pw", "auth": { "type": "m.login.dummy" } });
        server.call_from(
            from,
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(body),
        )
    };
    for n in 0..3 {
        let (status, body) = register(&format!("burst{n}"), addr(1)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = register("burst9", addr(1)).await;
    assert_limited(status, &body);
    let (status, body) = register("burst9", addr(2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Synapse's `rc_message`: ten sends at once per user, then 429; another user still
/// sends.
#[tokio::test]
async fn sends_are_rate_limited_per_user() {
    let limits = RateLimits {
        registration: None,
        ..RateLimits::default()
    };
    let server = Server::new(limits);
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server
        .create_room(&alice, json!({ "preset": "public_chat" }))
        .await;
    let (status, _) = server
        .call(
            "POST",
            &format!("/_matrix/client/v3/join/{room}"),
            Some(&bob),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for n in 0..10 {
        let (status, body) = server
            .send(&alice, &room, "m.room.message", &format!("t{n}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = server.send(&alice, &room, "m.room.message", "t10").await;
    assert_limited(status, &body);
    // A retry of an acknowledged send is its first answer, not another send.
    let (status, body) = server.send(&alice, &room, "m.room.message", "t9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.send(&bob, &room, "m.room.message", "b0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Many rooms created by one user: Synapse's `rc_room_creation` allows ten at once.
#[tokio::test]
async fn many_rooms_from_one_user_are_limited() {
    let limits = RateLimits {
        registration: None,
        ..RateLimits::default()
    };
    let server = Server::new(limits);
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    for _ in 0..10 {
        server.create_room(&alice, json!({})).await;
    }
    let (status, body) = server
        .call(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&alice),
            Some(json!({})),
        )
        .await;
    assert_limited(status, &body);
    server.create_room(&bob, json!({})).await;
}

/// A flood of `/sync` long-polls from one user: eight at once, the next refused at
/// once with 429; another user's sync is answered meanwhile.
#[tokio::test]
async fn a_flood_of_sync_long_polls_is_bounded_per_user() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let (status, body) = server
        .call("GET", "/_matrix/client/v3/sync", Some(&alice), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let since = body["next_batch"].as_str().unwrap().to_owned();
    let uri = format!("/_matrix/client/v3/sync?timeout=30000&since={since}");
    let mut polls = Vec::new();
    for _ in 0..8 {
        let request = Request::get(uri.as_str())
            .header("authorization", format!("Bearer {alice}"))
            .body(Body::empty())
            .unwrap();
        polls.push(tokio::spawn(server.router.clone().oneshot(request)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let (status, body) = server.call("GET", &uri, Some(&alice), None).await;
    assert_limited(status, &body);
    let (status, body) = server
        .call("GET", "/_matrix/client/v3/sync?timeout=0", Some(&bob), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(start.elapsed() < Duration::from_secs(5));
    for poll in &polls {
        assert!(!poll.is_finished(), "the long-polls are still waiting");
        poll.abort();
    }
}

// --- finding 2: HTTP limits ----------------------------------------------------------

/// A real listener on a loopback port with short timeouts; returns its address and
/// the server (kept alive by the caller).
async fn listen(http: HttpLimits) -> (SocketAddr, Server, tokio::sync::oneshot::Sender<()>) {
    let server = Server::with_http(RateLimits::OFF, http);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = server.router.clone();
    tokio::spawn(crate::serve::serve(listener, router, http, async {
        let _ = stopped.await;
    }));
    (local, server, stop)
}

fn short_timeouts() -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: 4,
    }
}

/// Reads until the peer closes the connection; the bytes read.
async fn read_to_close(tcp: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Headers sent a byte at a time are cut off at the header timeout (1 s here).
#[tokio::test]
async fn headers_a_byte_at_a_time_are_cut_off() {
    let (local, _server, _stop) = listen(short_timeouts()).await;
    let mut tcp = TcpStream::connect(local).await.unwrap();
    let start = Instant::now();
    let request = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut closed_at = None;
    for byte in request.iter().cycle().take(100) {
        if tcp.write_all(&[*byte]).await.is_err() {
            closed_at = Some(start.elapsed());
            break;
        }
        let mut probe = [0u8; 64];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut probe)).await
        {
            closed_at = Some(start.elapsed());
            break;
        }
    }
    let closed_at = closed_at.expect("the connection stayed open for 10 s");
    assert!(
        closed_at >= Duration::from_millis(900) && closed_at < Duration::from_millis(2500),
        "closed after {closed_at:?}"
    );
}

/// An idle keep-alive connection is closed at the header timeout; a body that stops
/// half-way is answered 408 at the body timeout.
#[tokio::test]
async fn idle_connections_and_stalled_bodies_time_out() {
    let (local, _server, _stop) = listen(short_timeouts()).await;
    let mut tcp = TcpStream::connect(local).await.unwrap();
    tcp.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let answer = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    let idle = start.elapsed();
    let answer = String::from_utf8(answer.expect("idle connection not closed")).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(idle < Duration::from_millis(2500), "idle for {idle:?}");

    let mut tcp = TcpStream::connect(local).await.unwrap();
    tcp.write_all(
        b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\"",
    )
    .await
    .unwrap();
    let start = Instant::now();
    let answer = read_to_close(&mut tcp, Duration::from_secs(5)).await;
    let stalled = start.elapsed();
    let answer = String::from_utf8(answer.expect("stalled body not answered")).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("M_UNKNOWN"), "{answer}");
    assert!(
        stalled < Duration::from_millis(2500),
        "answered after {stalled:?}"
    );
}

/// A declared 2 GB body is refused with 413 at once, without waiting for it.
#[tokio::test]
async fn a_huge_content_length_is_refused_before_the_body() {
    let (local, _server, _stop) = listen(HttpLimits::default()).await;
    let mut tcp = TcpStream::connect(local).await.unwrap();
    tcp.write_all(
        b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf))
        .await
        .expect("no answer before the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("M_TOO_LARGE"), "{answer}");
}

/// With every connection slot taken, a new client waits; it is served as soon as the
/// stalled connections time out, and the server stops cleanly when told.
#[tokio::test]
async fn connections_are_bounded_and_slots_come_back() {
    let http = HttpLimits {
        max_connections: 2,
        ..short_timeouts()
    };
    let (local, _server, stop) = listen(http).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(local).await.unwrap();
        tcp.write_all(b"GET /").await.unwrap();
        stalled.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    let mut tcp = TcpStream::connect(local).await.unwrap();
    tcp.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut tcp, Duration::from_secs(5))
        .await
        .unwrap();
    let waited = start.elapsed();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_millis(2500),
        "served after {waited:?}"
    );
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        TcpStream::connect(local).await.is_err(),
        "still listening after the stop"
    );
}

// --- finding 5: transaction IDs -----------------------------------------------------

/// A transaction ID reused in another room, or with another event type, is a new send;
/// reused on the same path it answers the first event.
#[tokio::test]
async fn transaction_ids_are_scoped_per_device_and_path() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    let first = server.create_room(&alice, json!({})).await;
    let second = server.create_room(&alice, json!({})).await;
    let (_, a) = server.send(&alice, &first, "m.room.message", "txn1").await;
    let (_, again) = server.send(&alice, &first, "m.room.message", "txn1").await;
    let (_, b) = server.send(&alice, &second, "m.room.message", "txn1").await;
    let (_, c) = server
        .send(&alice, &first, "org.example.other", "txn1")
        .await;
    assert_eq!(a["event_id"], again["event_id"]);
    assert_ne!(a["event_id"], b["event_id"], "{b}");
    assert_ne!(a["event_id"], c["event_id"], "{c}");
    let uri = format!(
        "/_matrix/client/v3/rooms/{second}/event/{}",
        b["event_id"].as_str().unwrap()
    );
    let (status, event) = server.call("GET", &uri, Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK, "{event}");
    assert_eq!(event["room_id"], second.as_str());
}

// --- finding 6: profile updates -----------------------------------------------------

/// A 70 KB display name is refused and not stored; an update the rules refuse in one
/// room changes no room and not the profile.
#[tokio::test]
async fn profile_updates_are_checked_first_and_applied_everywhere_or_nowhere() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(
            server
                .create_room(&alice, json!({ "preset": "public_chat" }))
                .await,
        );
    }
    let uri = "/_matrix/client/v3/profile/@alice:test.example/displayname";
    let (status, body) = server
        .call(
            "PUT",
            uri,
            Some(&alice),
            Some(json!({ "displayname": "Alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .call(
            "PUT",
            uri,
            Some(&alice),
            Some(json!({ "displayname": "x".repeat(70_000) })),
        )
        .await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::PAYLOAD_TOO_LARGE,
        "{body}"
    );
    let (_, body) = server.call("GET", uri, None, None).await;
    assert_eq!(body["displayname"], "Alice");

    // A room whose join rule refuses even a member's own join-to-join change.
    let private = json!({ "initial_state": [
        { "type": "m.room.join_rules", "state_key": "", "content": { "join_rule": "private" } }
    ] });
    rooms.push(server.create_room(&alice, private).await);
    let before = server.app.db(|store| store.max_stream()).await.unwrap();
    let (status, body) = server
        .call(
            "PUT",
            uri,
            Some(&alice),
            Some(json!({ "displayname": "Eve" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let after = server.app.db(|store| store.max_stream()).await.unwrap();
    assert_eq!(before, after, "no member event was stored in any room");
    let (_, body) = server.call("GET", uri, None, None).await;
    assert_eq!(body["displayname"], "Alice");
}

// --- finding 7 ------------------------------------------------------------------------

#[tokio::test]
async fn usernames_starting_with_an_underscore_are_refused() {
    let server = Server::new(RateLimits::OFF);
    let body =
        json!({ "username": "_bridge", "password": "pw", "auth": { "type": "m.login.dummy" } });
    let (status, body) = server
        .call("POST", "/_matrix/client/v3/register", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errcode"], "M_INVALID_USERNAME");
    let (_, body) = server
        .call(
            "GET",
            "/_matrix/client/v3/register/available?username=_x",
            None,
            None,
        )
        .await;
    assert_eq!(body["errcode"], "M_INVALID_USERNAME");
}

#[tokio::test]
async fn login_with_the_full_user_id_in_capitals() {
    let server = Server::new(RateLimits::OFF);
    server.register("alice").await;
    let (status, body) = server.login(LOCAL, "@ALICE:TEST.EXAMPLE", "secret").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "@alice:test.example");
}

/// The framework's own errors (bad UTF-8 in the path, unknown paths and methods, long
/// targets, oversized bodies) carry a Matrix `errcode` as JSON.
#[tokio::test]
async fn every_error_is_matrix_json() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    let long = format!("/_matrix/client/v3/publicRooms?x={}", "a".repeat(20_000));
    let cases = [
        (
            "GET",
            "/_matrix/client/v3/rooms/%FF%FE/state",
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET",
            "/_matrix/client/v3/rooms/!a:b/event/%C0",
            StatusCode::BAD_REQUEST,
        ),
        ("GET", "/nowhere", StatusCode::NOT_FOUND),
        (
            "DELETE",
            "/_matrix/client/v3/account/whoami",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("GET", long.as_str(), StatusCode::URI_TOO_LONG),
    ];
    for (method, uri, expected) in cases {
        let (status, body) = server.call(method, uri, Some(&alice), None).await;
        assert_eq!(
            status,
            expected,
            "{method} {}: {body}",
            &uri[..uri.len().min(60)]
        );
        assert!(
            body["errcode"]
                .as_str()
                .is_some_and(|code| code.starts_with("M_")),
            "{body}"
        );
        assert!(body["error"].is_string(), "{body}");
    }
    let request = Request::post("/_matrix/client/v3/login")
        .body(Body::from(vec![b' '; crate::http::MAX_BODY + 1]))
        .unwrap();
    let (status, body) = decode(server.router.clone().oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["errcode"], "M_TOO_LARGE");
}

/// A browser client's preflight is answered, and every answer carries the headers.
#[tokio::test]
async fn web_clients_get_their_cors_headers() {
    let server = Server::new(RateLimits::OFF);
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/_matrix/client/v3/login")
        .body(Body::empty())
        .unwrap();
    let response = server.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let request = Request::get("/nowhere").body(Body::empty()).unwrap();
    let response = server.router.clone().oneshot(request).await.unwrap();
    assert!(
        response.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );
}

/// Only the rules' own answer for a second create event: 403, for anyone.
#[tokio::test]
async fn a_create_event_into_an_existing_room_is_forbidden() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server
        .create_room(&alice, json!({ "preset": "public_chat" }))
        .await;
    server
        .call(
            "POST",
            &format!("/_matrix/client/v3/join/{room}"),
            Some(&bob),
            Some(json!({})),
        )
        .await;
    let uri = format!("/_matrix/client/v3/rooms/{room}/state/m.room.create/");
    for token in [&bob, &alice] {
        let (status, body) = server
            .call(
                "PUT",
                &uri,
                Some(token),
                Some(json!({ "room_version": "12" })),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["errcode"], "M_FORBIDDEN");
    }
}

#[test]
fn start_up_errors_name_the_path_and_the_cause() {
    let dir = std::env::temp_dir().join(format!("homeserver-file-{}", crate::random_string(8)));
    std::fs::write(&dir, b"not a directory").unwrap();
    let data = dir.join("data");
    let error = crate::open_data_dir(&data).err().unwrap();
    assert!(error.contains(&data.display().to_string()), "{error}");
    assert!(error.to_lowercase().contains("not a directory"), "{error}");
    std::fs::remove_file(&dir).unwrap();
}

#[tokio::test]
async fn public_rooms_pagination_does_not_overflow() {
    let server = Server::new(RateLimits::OFF);
    let alice = server.register("alice").await;
    server
        .create_room(&alice, json!({ "visibility": "public" }))
        .await;
    let since = format!("p{}", usize::MAX);
    let uri = format!("/_matrix/client/v3/publicRooms?since={since}&limit=500");
    let (status, body) = server.call("GET", &uri, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chunk"], json!([]));
    assert!(body.get("next_batch").is_none(), "{body}");
}

// --- logging ------------------------------------------------------------------------

#[test]
fn logged_paths_carry_no_access_token() {
    let uri: axum::http::Uri = "/_matrix/client/v3/sync?since=s1&access_token=secret123&timeout=5"
        .parse()
        .unwrap();
    let logged = crate::serve::loggable_target(&uri);
    assert!(!logged.contains("secret123"), "{logged}");
    assert_eq!(
        logged,
        "/_matrix/client/v3/sync?since=s1&access_token=<redacted>&timeout=5"
    );
}
