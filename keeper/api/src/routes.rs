//! Every path the API serves, in one place: the handler of each, the 404 and 405 answers, and
//! the middleware around them all: JSON for every error (`json_errors`), the request limits
//! (`guard`: requests in flight, request timeout), CORS for reads, and the metrics
//! (`metrics::track`).

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::error::ApiError;
use crate::{claims, epochs, health, metrics, months, offchain, openapi, wallets, web, Api};

/// `(path template, handlers)`. The template is also the `route` label of the path's metrics.
fn table() -> Vec<(&'static str, MethodRouter<Api>)> {
    vec![
        // Read API.
        ("/v1/wallets/{address}", get(wallets::wallet)),
        ("/v1/claims/{month}/{address}", get(claims::claim)),
        ("/v1/wallets/{address}/claims", get(wallets::claims)),
        ("/v1/epochs/{epoch}", get(epochs::epoch)),
        ("/v1/months/{month}/tree", get(months::tree)),
        ("/health", get(health::health)),
        ("/metrics", get(metrics::metrics)),
        ("/v1/openapi.json", get(openapi::openapi)),
        // The claimer page and the claim relay (`web`).
        ("/", get(web::index)),
        ("/index.html", get(web::index)),
        ("/app.js", get(web::app_js)),
        ("/claim.js", get(web::claim_js)),
        ("/style.css", get(web::style_css)),
        ("/v1/info", get(web::info)),
        (
            "/v1/claims/{month}/{address}/relay",
            post(web::relay).layer(DefaultBodyLimit::max(web::RELAY_BODY_BYTES)),
        ),
        // Attester intake (`offchain`): it reads its body itself, after its cheap checks, and
        // answers 413 beyond `offchain::MAX_BODY_BYTES`.
        ("/v1/actions", post(offchain::submit)),
        ("/v1/offchain", get(offchain::info)),
    ]
}

impl Api {
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for (path, handlers) in table() {
            self.inner.metrics.register(path);
            router = router.route(path, handlers);
        }
        router
            .fallback(|| async {
                ApiError::not_found("not_found", "no such endpoint (see /v1/openapi.json)")
            })
            // Every extractor reads at most this much unless its route says otherwise.
            .layer(DefaultBodyLimit::max(web::RELAY_BODY_BYTES))
            .layer(from_fn(cors_for_reads))
            // After the fallback, so that unmatched requests are measured too.
            .layer(from_fn_with_state(self.clone(), metrics::track))
            .layer(from_fn_with_state(self.clone(), guard))
            .layer(from_fn(json_errors))
            .with_state(self.clone())
    }

    /// Serves until `shutdown` resolves, under the API's [`crate::Limits`] (`serve`).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_connections(listener, None, shutdown).await
    }
}

/// The request limits: at most `max_in_flight` requests at once (one more: 503 `busy`), each
/// read and answered within `request_timeout` (else 408; the relay has its own, longer bound).
async fn guard(State(api): State<Api>, req: Request, next: Next) -> Response {
    let Ok(_permit) = api.inner.in_flight.clone().try_acquire_owned() else {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "this keeper is answering too many requests; try again in a second",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    let relay = req.method() == Method::POST && req.uri().path().ends_with("/relay");
    if relay {
        return next.run(req).await;
    }
    let limit = api.inner.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request was not read and answered within {} ms (api.request_timeout_ms): its body did not arrive in time, or the keeper is overloaded",
                    limit.as_millis()
                ),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Reads may come from any web page (the data is public); the POST endpoints stay same-origin
/// (their JSON body needs a preflight, which is not answered).
async fn cors_for_reads(req: Request, next: Next) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut resp = next.run(req).await;
    if read {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    resp
}

/// Every error answer is JSON `{"error": {"code", "message"}}`: what axum answers itself (405,
/// 413, extractor rejections such as a duplicated query parameter) is rewritten, with at most a
/// short prefix of its text; headers such as `Allow` are kept.
async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (
                "method_not_allowed",
                format!("method {method} is not allowed here (allowed: {allowed})"),
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the body is too large".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json".to_string(),
        ),
        StatusCode::BAD_REQUEST => ("bad_request", text.trim().to_string()),
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_string()),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long".to_string()),
        s if s.is_server_error() => ("internal", "internal error (see the keeper's log)".to_string()),
        _ => ("bad_request", text.trim().to_string()),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        crate::format::prefix(&message, 200)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut out = ApiError::new(status, code, message).into_response();
    for (k, v) in parts.headers.iter() {
        out.headers_mut().entry(k).or_insert_with(|| v.clone());
    }
    out
}
