//! Tests of the application-service API in the homeserver: registration files,
//! `as_token` authentication and masquerading, registration of namespace users,
//! exclusive names and aliases, the rate-limit exemption, and the push queue (what is
//! stored survives a restart, a failed push is resent with the same ID and bytes, IDs
//! increase). They drive the router in-process, and a loopback listener plays the
//! bridge.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::put;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::push::next_transaction;
use crate::app::App;
use crate::config::Config;
use crate::limits::{Rate, RateLimits};
use crate::storage::{PendingTxn, Storage};

const SERVER: &str = "test.example";
const AS_TOKEN: &str = "as-token-for-tests";
const HS_TOKEN: &str = "hs-token-for-tests";

/// A registration for `@remote_*` and `#remote_*`, exclusive, with `url`.
fn registration(url: &str, rate_limited: bool) -> String {
    format!(
        "id: remote\nurl: {url}\nas_token: {AS_TOKEN}\nhs_token: {HS_TOKEN}\n\
         sender_localpart: remote_bot\nrate_limited: {rate_limited}\n\
         receive_ephemeral: true\nnamespaces:\n  users:\n    - exclusive: true\n      \
         regex: '@remote_.*:test\\.example'\n  aliases:\n    - exclusive: true\n      \
         regex: '#remote_.*:test\\.example'\n"
    )
}

/// A server in `dir` with one registration file; opening it again on the same `dir`
/// is a restart.
struct Server {
    app: App,
    router: Router,
}

impl Server {
    fn open(dir: &Path, yaml: &str, rate_limits: RateLimits) -> Self {
        let file = dir.join("registration.yaml");
        std::fs::write(&file, yaml).unwrap();
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), SERVER, dir.to_path_buf());
        config.rate_limits = rate_limits;
        let key = matrix_serverlib::crypto::SigningKey::from_seed("ed25519:test", [9; 32]);
        let services = super::load(&[file], SERVER).unwrap();
        let storage = Storage::open(dir).unwrap();
        super::init(&storage, &services).unwrap();
        let app = App::new(config, key, storage, None, services);
        let router = crate::router(app.clone());
        Self { app, router }
    }

    async fn call(
        &self,
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
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn register(&self, name: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/_matrix/client/v3/register",
                None,
                Some(
                    json!({"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn register_puppet(&self, name: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/_matrix/client/v3/register",
            Some(AS_TOKEN),
            Some(json!({
                "username": name,
                "type": "m.login.application_service",
                "inhibit_login": true,
            })),
        )
        .await
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("homeserver-as-{name}-{}", crate::random_string(8)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_registration_files_are_refused_naming_the_file() {
    let dir = temp_dir("load");
    let good = dir.join("good.yaml");
    std::fs::write(&good, registration("http://127.0.0.1:9", true)).unwrap();
    let bad_regex = dir.join("bad-regex.yaml");
    std::fs::write(
        &bad_regex,
        registration("http://127.0.0.1:9", true).replace("'@remote_.*", "'@remote_(.*"),
    )
    .unwrap();
    let error = super::load(std::slice::from_ref(&bad_regex), SERVER).unwrap_err();
    assert!(
        error.contains("bad-regex.yaml") && error.contains("regex"),
        "{error}"
    );

    let same_id = dir.join("same-id.yaml");
    std::fs::write(
        &same_id,
        registration("http://127.0.0.1:9", true)
            .replace(AS_TOKEN, "other-as")
            .replace(HS_TOKEN, "other-hs"),
    )
    .unwrap();
    let error = super::load(&[good.clone(), same_id], SERVER).unwrap_err();
    assert!(
        error.contains("same-id.yaml") && error.contains("remote"),
        "{error}"
    );

    let same_token = dir.join("same-token.yaml");
    std::fs::write(
        &same_token,
        registration("http://127.0.0.1:9", true)
            .replace("id: remote", "id: other")
            .replace(HS_TOKEN, "other-hs"),
    )
    .unwrap();
    let error = super::load(&[good.clone(), same_token], SERVER).unwrap_err();
    assert!(
        error.contains("same-token.yaml") && error.contains("as_token"),
        "{error}"
    );

    let not_yaml = dir.join("not-yaml.yaml");
    std::fs::write(&not_yaml, "id: [unclosed").unwrap();
    let error = super::load(&[not_yaml], SERVER).unwrap_err();
    assert!(
        error.contains("not-yaml.yaml") && error.contains("YAML"),
        "{error}"
    );

    let missing = dir.join("missing.yaml");
    let error = super::load(&[missing], SERVER).unwrap_err();
    assert!(error.contains("missing.yaml"), "{error}");
    assert_eq!(super::load(&[good], SERVER).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_as_token_acts_only_within_the_namespace() {
    let dir = temp_dir("auth");
    let server = Server::open(
        &dir,
        &registration("http://127.0.0.1:9", true),
        RateLimits::OFF,
    );
    let whoami = "/_matrix/client/v3/account/whoami";
    let (status, body) = server.call("GET", whoami, Some(AS_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "@remote_bot:test.example");

    // The access_token query parameter works as the header does.
    let uri = format!("{whoami}?access_token={AS_TOKEN}");
    let (status, body) = server.call("GET", &uri, None, None).await;
    assert_eq!(
        (status, &body["user_id"]),
        (StatusCode::OK, &json!("@remote_bot:test.example"))
    );

    // In the namespace but not registered yet, then registered.
    let as_puppet = format!("{whoami}?user_id=@remote_bob:test.example");
    let (status, body) = server.call("GET", &as_puppet, Some(AS_TOKEN), None).await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::FORBIDDEN, &json!("M_FORBIDDEN"))
    );
    let (status, body) = server.register_puppet("remote_bob").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"user_id": "@remote_bob:test.example"}));
    let (status, body) = server.call("GET", &as_puppet, Some(AS_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "@remote_bob:test.example");

    // Outside the namespace: an ordinary user is not the service's to act as.
    server.register("carol").await;
    let outside = format!("{whoami}?user_id=@carol:test.example");
    let (status, body) = server.call("GET", &outside, Some(AS_TOKEN), None).await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::FORBIDDEN, &json!("M_FORBIDDEN"))
    );

    // A token that is no one's, and an hs_token used as an access token.
    for token in ["not-a-token", HS_TOKEN] {
        let (status, body) = server.call("GET", whoami, Some(token), None).await;
        assert_eq!(
            (status, &body["errcode"]),
            (StatusCode::UNAUTHORIZED, &json!("M_UNKNOWN_TOKEN"))
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn application_service_registration_is_checked() {
    let dir = temp_dir("register");
    let server = Server::open(
        &dir,
        &registration("http://127.0.0.1:9", true),
        RateLimits::OFF,
    );
    // Outside its namespace.
    let (status, body) = server.register_puppet("alice").await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_EXCLUSIVE"))
    );
    // Without the token, or with a wrong one.
    let body = json!({"username": "remote_x", "type": "m.login.application_service"});
    let uri = "/_matrix/client/v3/register";
    let (status, answer) = server.call("POST", uri, None, Some(body.clone())).await;
    assert_eq!(
        (status, &answer["errcode"]),
        (StatusCode::UNAUTHORIZED, &json!("M_MISSING_TOKEN"))
    );
    let (status, answer) = server.call("POST", uri, Some("wrong"), Some(body)).await;
    assert_eq!(
        (status, &answer["errcode"]),
        (StatusCode::UNAUTHORIZED, &json!("M_UNKNOWN_TOKEN"))
    );
    // Without inhibit_login the puppet gets a token; a second registration is refused.
    let (status, answer) = server
        .call(
            "POST",
            uri,
            Some(AS_TOKEN),
            Some(json!({"username": "remote_dan", "type": "m.login.application_service"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["access_token"].is_string());
    let (status, answer) = server.register_puppet("remote_dan").await;
    assert_eq!(
        (status, &answer["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_USER_IN_USE"))
    );
    // No password logs the puppet in.
    let (status, _) = server
        .call(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "m.login.password", "user": "remote_dan", "password": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn exclusive_names_and_aliases_are_refused_to_ordinary_users() {
    let dir = temp_dir("exclusive");
    let server = Server::open(
        &dir,
        &registration("http://127.0.0.1:9", true),
        RateLimits::OFF,
    );
    let (status, body) = server
        .call(
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(json!({"username": "remote_eve", "password": "pw",
                        "auth": {"type": "m.login.dummy"}})),
        )
        .await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_EXCLUSIVE"))
    );
    let (status, body) = server
        .call(
            "GET",
            "/_matrix/client/v3/register/available?username=remote_eve",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_EXCLUSIVE"))
    );

    let alice = server.register("alice").await;
    let create = "/_matrix/client/v3/createRoom";
    let (status, body) = server
        .call(
            "POST",
            create,
            Some(&alice),
            Some(json!({"room_alias_name": "remote_chan"})),
        )
        .await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_EXCLUSIVE"))
    );
    let (status, body) = server
        .call("POST", create, Some(&alice), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let room_id = body["room_id"].as_str().unwrap().to_owned();
    let alias = "/_matrix/client/v3/directory/room/%23remote_chan:test.example";
    let (status, body) = server
        .call(
            "PUT",
            alias,
            Some(&alice),
            Some(json!({"room_id": room_id})),
        )
        .await;
    assert_eq!(
        (status, &body["errcode"]),
        (StatusCode::BAD_REQUEST, &json!("M_EXCLUSIVE"))
    );
    // An alias outside the namespace is anyone's.
    let (status, body) = server
        .call(
            "POST",
            create,
            Some(&alice),
            Some(json!({"room_alias_name": "chan"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The service itself takes its aliases.
    let (status, body) = server
        .call(
            "POST",
            create,
            Some(AS_TOKEN),
            Some(json!({"room_alias_name": "remote_chan"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Limits that allow one message per user at once, and a slow refill.
fn strict() -> RateLimits {
    RateLimits {
        message: Some(Rate {
            per_second: 0.001,
            burst: 1.0,
        }),
        ..RateLimits::OFF
    }
}

async fn send(server: &Server, token: &str, room_id: &str, txn: &str, query: &str) -> StatusCode {
    let uri = format!("/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}{query}");
    let body = json!({"msgtype": "m.text", "body": txn});
    server.call("PUT", &uri, Some(token), Some(body)).await.0
}

#[tokio::test]
async fn puppets_of_an_unlimited_service_are_not_rate_limited() {
    for (rate_limited, expected) in [
        (false, StatusCode::OK),
        (true, StatusCode::TOO_MANY_REQUESTS),
    ] {
        let dir = temp_dir("limits");
        let server = Server::open(
            &dir,
            &registration("http://127.0.0.1:9", rate_limited),
            strict(),
        );
        server.register_puppet("remote_fay").await;
        server.register_puppet("remote_bot").await;
        let as_fay = "?user_id=@remote_fay:test.example";
        let (status, body) = server
            .call(
                "POST",
                &format!("/_matrix/client/v3/createRoom{as_fay}"),
                Some(AS_TOKEN),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let room_id = body["room_id"].as_str().unwrap().to_owned();
        let mut last = StatusCode::OK;
        for txn in ["t1", "t2", "t3"] {
            last = send(&server, AS_TOKEN, &room_id, txn, as_fay).await;
        }
        assert_eq!(last, expected, "rate_limited: {rate_limited}");
        // The service's sender is never limited.
        let bot = "?user_id=@remote_bot:test.example";
        let uri = format!("/_matrix/client/v3/rooms/{room_id}/invite{as_fay}");
        let invite = json!({"user_id": "@remote_bot:test.example"});
        assert_eq!(
            server
                .call("POST", &uri, Some(AS_TOKEN), Some(invite))
                .await
                .0,
            StatusCode::OK
        );
        let join = format!("/_matrix/client/v3/rooms/{room_id}/join{bot}");
        assert_eq!(
            server.call("POST", &join, Some(AS_TOKEN), None).await.0,
            StatusCode::OK
        );
        for txn in ["b1", "b2", "b3"] {
            assert_eq!(
                send(&server, AS_TOKEN, &room_id, txn, bot).await,
                StatusCode::OK
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The body of a stored transaction as JSON.
fn events_of(body: &[u8]) -> Vec<Value> {
    let value: Value = serde_json::from_slice(body).unwrap();
    value["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_queue_survives_a_restart_and_resends_the_same_transaction() {
    let dir = temp_dir("queue");
    // Nothing listens on port 9: the transactions stay queued.
    let yaml = registration("http://127.0.0.1:9", true);
    let (room_id, first_events) = {
        let server = Server::open(&dir, &yaml, RateLimits::OFF);
        server.register_puppet("remote_gus").await;
        let as_gus = "?user_id=@remote_gus:test.example";
        let (_, body) = server
            .call(
                "POST",
                &format!("/_matrix/client/v3/createRoom{as_gus}"),
                Some(AS_TOKEN),
                Some(json!({})),
            )
            .await;
        let room_id = body["room_id"].as_str().unwrap().to_owned();
        assert_eq!(
            send(&server, AS_TOKEN, &room_id, "m1", as_gus).await,
            StatusCode::OK
        );
        let first = next(&server).await.unwrap();
        assert_eq!(first.txn_id, 1);
        let events = events_of(&first.body);
        assert!(
            events.iter().any(|e| e["content"]["body"] == "m1"),
            "{events:?}"
        );
        assert!(events.iter().all(|e| e["room_id"] == json!(room_id)));
        // Asked again before it was acknowledged: the same transaction, byte for byte.
        let again = next(&server).await.unwrap();
        assert_eq!(again, first);
        (room_id, first)
    };
    // A restart: the pending transaction is still the one to send.
    let server = Server::open(&dir, &yaml, RateLimits::OFF);
    let after_restart = next(&server).await.unwrap();
    assert_eq!(after_restart, first_events);
    // Acknowledged: the next message goes in transaction 2, and only it.
    let app = server.app.clone();
    app.db(move |store| store.appservice_delivered("remote", 1))
        .await
        .unwrap();
    let nothing = next(&server).await;
    assert!(nothing.is_none());
    let as_gus = "?user_id=@remote_gus:test.example";
    assert_eq!(
        send(&server, AS_TOKEN, &room_id, "m2", as_gus).await,
        StatusCode::OK
    );
    let second = next(&server).await.unwrap();
    assert_eq!(second.txn_id, 2);
    let bodies: Vec<Value> = events_of(&second.body)
        .iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(bodies, vec![json!("m2")]);
    let _ = std::fs::remove_dir_all(dir);
}

/// The transaction the queue would send now.
async fn next(server: &Server) -> Option<PendingTxn> {
    let app = server.app.clone();
    let handle = app.clone();
    app.db(move |store| next_transaction(store, &handle, "remote"))
        .await
        .unwrap()
}

/// What the fake bridge received: (txn ID, Authorization, body).
type Received = Arc<Mutex<Vec<(String, String, Bytes)>>>;

#[tokio::test]
async fn a_failed_push_is_retried_with_the_same_id_and_body() {
    let received: Received = Arc::default();
    let record = Arc::clone(&received);
    let bridge = Router::new().route(
        "/_matrix/app/v1/transactions/{txn}",
        put(
            move |axum::extract::Path(txn): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: Bytes| {
                let record = Arc::clone(&record);
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let mut seen = record.lock().unwrap();
                    seen.push((txn, auth, body));
                    // The first attempt fails, as a bridge that is restarting would.
                    if seen.len() == 1 {
                        (StatusCode::INTERNAL_SERVER_ERROR, "{}")
                    } else {
                        (StatusCode::OK, "{}")
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, bridge).await });

    let dir = temp_dir("retry");
    let server = Server::open(
        &dir,
        &registration(&format!("http://127.0.0.1:{port}"), true),
        RateLimits::OFF,
    );
    super::start(&server.app);
    server.register_puppet("remote_hal").await;
    let as_hal = "?user_id=@remote_hal:test.example";
    let (_, body) = server
        .call(
            "POST",
            &format!("/_matrix/client/v3/createRoom{as_hal}"),
            Some(AS_TOKEN),
            Some(json!({})),
        )
        .await;
    let room_id = body["room_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no retry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        send(&server, AS_TOKEN, &room_id, "later", as_hal).await,
        StatusCode::OK
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = received.lock().unwrap().clone();
        let found = seen.iter().any(|(_, _, body)| {
            events_of(body)
                .iter()
                .any(|e| e["content"]["body"] == "later")
        });
        if found {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the later event never came"
        );
        drop(seen);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = received.lock().unwrap().clone();
    assert_eq!(seen[0].0, seen[1].0, "the retry has another ID");
    assert_eq!(seen[0].2, seen[1].2, "the retry has another body");
    assert!(
        seen.iter()
            .all(|(_, auth, _)| auth == &format!("Bearer {HS_TOKEN}"))
    );
    let ids: Vec<u64> = seen[1..]
        .iter()
        .map(|(txn, _, _)| txn.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    let _ = std::fs::remove_dir_all(dir);
}
