//! The client listener and the middleware every response passes. The listener serves
//! HTTP/1.1 with hyper under [`HttpLimits`]: at most `max_connections` at once (more
//! wait in the kernel's backlog), request headers (and the next request's, on an idle
//! keep-alive connection) within `header_timeout`, and a graceful stop that lets open
//! requests finish for a few seconds. The middleware ([`layers`]) logs one line per
//! request, turns every error without a JSON body (the framework's own rejections, 404,
//! 405, ...) into a Matrix error (<https://spec.matrix.org/v1.16/client-server-api/#standard-error-response>),
//! refuses a `Content-Length` over [`MAX_BODY`] before reading the body, and reads the
//! body within `body_timeout`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::error::ApiError;
use crate::http::{ClientAddr, MAX_BODY};
use crate::limits::HttpLimits;

/// The longest request target (path and query) answered; longer ones get 414. (hyper
/// itself answers 414 without a body past 64 KiB, before any of this code runs.)
const MAX_URI: usize = 16 * 1024;

/// How long a stop waits for open requests (long-polling syncs among them).
const DRAIN: Duration = Duration::from_secs(5);

/// How much of a non-JSON error body becomes the Matrix error's message.
const MAX_ERROR_TEXT: usize = 1024;

/// Wraps `router` in the middleware: request log (outermost), the browser headers,
/// JSON errors, body guard.
pub(crate) fn layers(router: Router, limits: HttpLimits) -> Router {
    router
        .layer(middleware::from_fn_with_state(limits, guard_body))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn(log_request))
}

/// The headers the spec asks of every response for web clients such as Element
/// (<https://spec.matrix.org/v1.16/client-server-api/#web-browser-clients>), and the
/// answer to their `OPTIONS` preflight.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        (
            "access-control-allow-methods",
            "GET, POST, PUT, DELETE, OPTIONS",
        ),
        (
            "access-control-allow-headers",
            "X-Requested-With, Content-Type, Authorization",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests
/// finish for a few seconds.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // A free connection slot first: at the limit, new clients wait in the backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (router, stopping) = (router.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(tcp, peer, router, limits, stopping).await;
            drop(permit);
        });
    }
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!("stopping with requests still open after {DRAIN:?}");
    }
}

/// Serves one connection until the client closes it, a timeout closes it, or the server
/// stops (then after the request in progress).
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let addr = ClientAddr(peer.ip());
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(addr);
        let router = router.clone();
        router.oneshot(request.map(Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::select! {
        _ = connection.as_mut() => {}
        () = stop => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Refuses a request target over [`MAX_URI`] with 414 and a declared body over
/// [`MAX_BODY`] with 413, both before reading the body; then reads the body within
/// the body timeout (408 after it).
async fn guard_body(State(limits): State<HttpLimits>, request: Request, next: Next) -> Response {
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target_len > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "M_UNKNOWN",
            format!("request target over {MAX_URI} bytes"),
        )
        .into_response();
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return too_large().into_response();
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, MAX_BODY).collect();
    let bytes = match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large().into_response();
        }
        Ok(Err(error)) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "M_UNKNOWN",
                format!("cannot read the request body: {error}"),
            )
            .into_response();
        }
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "M_UNKNOWN",
                format!(
                    "the request body took longer than {:?}",
                    limits.body_timeout
                ),
            )
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large() -> ApiError {
    ApiError::too_large(format!("request body over {MAX_BODY} bytes"))
}

/// Gives every error response without a JSON body (axum's rejections, say) a Matrix
/// `errcode` and `error`, keeping its status and its text as the message.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let error = ApiError::new(status, errcode_for(status), message).into_response();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_TYPE);
    let (error_parts, error_body) = error.into_parts();
    parts.headers.extend(error_parts.headers);
    Response::from_parts(parts, error_body)
}

/// The Matrix error code for an error status the framework produced.
fn errcode_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "M_INVALID_PARAM",
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "M_UNRECOGNIZED",
        StatusCode::PAYLOAD_TOO_LARGE => "M_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "M_NOT_JSON",
        StatusCode::TOO_MANY_REQUESTS => "M_LIMIT_EXCEEDED",
        _ => "M_UNKNOWN",
    }
}

/// Logs one line per request: client, method, path (access tokens removed), status
/// and latency. Faults (5xx) at `warn`, everything else at `info`.
async fn log_request(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = loggable_target(request.uri());
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map(|ClientAddr(addr)| addr.to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    // Milliseconds to a tenth.
    let latency_ms = (start.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    if response.status().is_server_error() {
        tracing::warn!(target: "homeserver::request", %client, %method, %path, status, latency_ms);
    } else {
        tracing::info!(target: "homeserver::request", %client, %method, %path, status, latency_ms);
    }
    response
}

/// The request target as logged: the path, and the query with the value of any
/// `access_token` parameter replaced.
pub(crate) fn loggable_target(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let query: Vec<&str> = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("access_token=") {
                "access_token=<redacted>"
            } else {
                pair
            }
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}
