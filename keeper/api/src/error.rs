//! [`ApiError`] and the JSON shape of every error answer:
//! `{"error": {"code", "field"?, "index"?, "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An API error: status, code and message, rendered as JSON. The off-chain intake also names the
/// field (and the action's index) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    index: Option<usize>,
}

/// What a handler answers: `T` (by default a ready response), or an error rendered as JSON.
pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            index: None,
        }
    }

    pub(crate) fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A failure of the keeper, not of the request: logged in full, answered without detail.
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (see the keeper's log)",
        )
    }

    /// Names the field at fault (`nonce`, `actions[3].kind`, ...) and the action's index.
    pub(crate) fn at(mut self, field: Option<String>, index: Option<usize>) -> Self {
        self.field = field;
        self.index = index;
        self
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code (`bad_address`, `unknown_wallet`, ...).
    pub fn code(&self) -> &'static str {
        self.code
    }
}

/// The body of an error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// Fields in alphabetical order: the bytes stay those of the sorted `json!` objects clients saw
/// before; `field` and `index` are left out when unset, as they were.
#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    message: &'a str,
}

/// The longest message and field name answered, in characters: an error never carries more than
/// a short prefix of what was sent (`format::quote` keeps the explanation within it).
pub(crate) const MAX_MESSAGE_CHARS: usize = 400;
const MAX_FIELD_CHARS: usize = 64;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = crate::format::prefix(&self.message, MAX_MESSAGE_CHARS);
        let field = self
            .field
            .as_deref()
            .map(|f| crate::format::prefix(f, MAX_FIELD_CHARS));
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                field: field.as_deref(),
                index: self.index,
                message: &message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
