//! One error type for everything a caller of the relay can be told: an
//! [`ErrorKind`] mapped once to an HTTP status ([`ErrorKind::status`]) and a
//! wire error code ([`ErrorKind::code`]), and a message addressed to whoever
//! must act on it. HTTP answers carry `{"error": CODE, "message": TEXT}`; the
//! WebSocket the same pair in an `error` message, so a page handles a refusal
//! the same way whichever path it took.
//!
//! The cause, when there is one, is kept as the error's `source` and logged
//! with its whole chain (`{:#}`); callers see only the message: an internal
//! failure's details (paths, SQL, a camera's address) stay in the log.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sightline_wire::{ErrorCode, ServerMessage};

/// What went wrong, as far as the caller is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or out-of-place input.
    BadRequest,
    /// The client speaks another protocol version.
    ProtocolMismatch,
    /// Who the caller is is unknown (no session, bad or expired ticket).
    Unauthenticated,
    /// The caller is known and may not do this.
    Forbidden,
    /// No such thing — or one the caller may not know of: both answer alike.
    NotFound,
    /// `unsubscribe` for a camera not subscribed.
    NotSubscribed,
    /// Conflicts with the current state.
    Conflict,
    /// Too many attempts.
    RateLimited,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// A WebSocket upgrade of another protocol version.
    UpgradeRequired,
    /// A `Host` the relay does not answer to (DNS rebinding, auth off).
    WrongHost,
    /// Not possible now (shutting down, a part not built or running).
    Unavailable,
    /// A camera refused what the relay asked of it on the caller's behalf
    /// (a PTZ command's SOAP fault): the camera's own words follow.
    CameraRefused,
    /// The relay failed; the log has the cause.
    Internal,
}

impl ErrorKind {
    /// The HTTP status this kind answers with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest | ErrorKind::ProtocolMismatch => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::NotSubscribed | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            ErrorKind::WrongHost => StatusCode::MISDIRECTED_REQUEST,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::CameraRefused => StatusCode::BAD_GATEWAY,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire protocol's code for this kind.
    pub fn code(self) -> ErrorCode {
        match self {
            ErrorKind::BadRequest | ErrorKind::MethodNotAllowed | ErrorKind::UpgradeRequired => {
                ErrorCode::BadMessage
            }
            ErrorKind::ProtocolMismatch => ErrorCode::ProtocolMismatch,
            ErrorKind::Unauthenticated => ErrorCode::Unauthenticated,
            ErrorKind::Forbidden | ErrorKind::WrongHost => ErrorCode::Forbidden,
            ErrorKind::NotFound => ErrorCode::UnknownCamera,
            ErrorKind::NotSubscribed => ErrorCode::NotSubscribed,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::RateLimited => ErrorCode::RateLimited,
            ErrorKind::Unavailable => ErrorCode::Unavailable,
            ErrorKind::CameraRefused => ErrorCode::CameraRefused,
            ErrorKind::Internal => ErrorCode::Internal,
        }
    }
}

/// An error for a caller: its kind, what to tell them, and the cause.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<anyhow::Error>,
    /// Seconds to wait, for [`ErrorKind::RateLimited`] (`Retry-After`).
    retry_after: Option<u64>,
}

/// What an internal failure tells the caller (the cause goes to the log only).
const INTERNAL_MESSAGE: &str = "the relay failed to do this; its log says why";

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
            retry_after: None,
        }
    }

    /// An internal failure: the caller is told only that it failed.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Error {
        Error {
            kind: ErrorKind::Internal,
            message: INTERNAL_MESSAGE.into(),
            source: Some(cause.into()),
            retry_after: None,
        }
    }

    /// Tells the caller how long to wait before trying again.
    pub fn retry_after(mut self, secs: u64) -> Error {
        self.retry_after = Some(secs);
        self
    }

    /// Keeps `cause` as this error's source (logged with its chain).
    pub fn caused_by(mut self, cause: impl Into<anyhow::Error>) -> Error {
        self.source = Some(cause.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// This error as the wire's `error` message, answering request `request`.
    pub fn to_wire(&self, request: Option<u32>) -> ServerMessage {
        ServerMessage::Error {
            code: self.kind.code(),
            message: self.message.clone(),
            request,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The database's errors, each mapped once: what the caller did wrong is
/// told to them; what went wrong inside stays in the log.
impl From<sightline_store::StoreError> for Error {
    fn from(e: sightline_store::StoreError) -> Error {
        use sightline_store::StoreError as S;
        let kind = match &e {
            S::NotFound(_) => ErrorKind::NotFound,
            S::Conflict(_) | S::LastAdmin => ErrorKind::Conflict,
            S::Invalid(_) => ErrorKind::BadRequest,
            S::Forbidden(_) => ErrorKind::Forbidden,
            _ => return Error::internal(e),
        };
        Error::new(kind, e.to_string())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e.as_ref() as _)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.source {
            if self.kind == ErrorKind::Internal {
                tracing::error!("{}: {cause:#}", self.message);
            } else {
                tracing::debug!("{}: {cause:#}", self.message);
            }
        }
        let body = serde_json::json!({
            "error": self.kind.code(),
            "message": self.message,
        });
        let mut response = (self.kind.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.kind == ErrorKind::UpgradeRequired {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    const ALL: [ErrorKind; 12] = [
        ErrorKind::BadRequest,
        ErrorKind::ProtocolMismatch,
        ErrorKind::Unauthenticated,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::NotSubscribed,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::MethodNotAllowed,
        ErrorKind::UpgradeRequired,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    #[test]
    fn every_kind_is_an_error_status_and_the_auth_ones_are_apart() {
        for kind in ALL {
            let status = kind.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{kind:?}"
            );
        }
        assert_eq!(ErrorKind::Unauthenticated.status(), 401);
        assert_eq!(ErrorKind::Forbidden.status(), 403);
        assert_eq!(
            ErrorKind::Unauthenticated.code(),
            ErrorCode::Unauthenticated
        );
        assert_eq!(ErrorKind::Forbidden.code(), ErrorCode::Forbidden);
        // An unknown camera and one the caller may not see answer alike.
        assert_eq!(ErrorKind::NotFound.code(), ErrorCode::UnknownCamera);
    }

    #[tokio::test]
    async fn an_internal_failure_tells_the_caller_nothing_of_its_cause() {
        let cause = anyhow::anyhow!("disk I/O error at /var/lib/sightline/secret.db");
        let error = Error::internal(cause);
        assert!(
            std::error::Error::source(&error).is_some(),
            "the cause is kept"
        );
        let response = error.into_response();
        assert_eq!(response.status(), 500);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains("secret.db"), "{body}");
    }

    #[tokio::test]
    async fn an_upgrade_of_another_version_names_the_one_spoken() {
        let response =
            Error::new(ErrorKind::UpgradeRequired, "the relay speaks version 13").into_response();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }

    #[test]
    fn the_wire_form_carries_the_code_and_the_request() {
        let error = Error::new(ErrorKind::NotFound, "no camera \"x\"");
        assert_eq!(
            error.to_wire(Some(4)),
            ServerMessage::Error {
                code: ErrorCode::UnknownCamera,
                message: "no camera \"x\"".into(),
                request: Some(4),
            }
        );
    }
}
