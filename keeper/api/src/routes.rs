//! Every path the API serves, in one place: the handler of each, the 404 fallback and the
//! middleware that measures them all (`metrics::track`).

use axum::extract::DefaultBodyLimit;
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
        ("/v1/claims/{month}/{address}/relay", post(web::relay)),
        // Attester intake (`offchain`); the body limit answers 413 to oversized batches.
        (
            "/v1/actions",
            post(offchain::submit).layer(DefaultBodyLimit::max(offchain::MAX_BODY_BYTES)),
        ),
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
            // After the fallback, so that unmatched requests are measured too.
            .layer(axum::middleware::from_fn_with_state(self.clone(), metrics::track))
            .with_state(self.clone())
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
