//! The one error type that becomes an HTTP response.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::codec::DecodeError;
use crate::model::{IdError, QueryError};
use crate::storage::StorageError;

/// Everything a handler can fail with, mapped to a status in one place. 4xx bodies say
/// what was wrong (Zipkin's messages, as plain text); 5xx bodies are opaque and the cause
/// is logged once here.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("request timed out")]
    Timeout,
    #[error("{0}")]
    Internal(String),
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::InvalidArgument(msg) => ApiError::BadRequest(msg),
            StorageError::Unavailable(msg) => ApiError::Unavailable(msg),
            StorageError::Internal(msg) => ApiError::Internal(msg),
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(err: DecodeError) -> Self {
        ApiError::BadRequest(err.to_string())
    }
}

impl From<IdError> for ApiError {
    fn from(err: IdError) -> Self {
        ApiError::BadRequest(err.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        ApiError::BadRequest(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(msg) => (StatusCode::BAD_REQUEST, msg),
            ApiError::NotFound(msg) => (StatusCode::NOT_FOUND, msg),
            ApiError::PayloadTooLarge(msg) => (StatusCode::PAYLOAD_TOO_LARGE, msg),
            ApiError::UnsupportedMediaType(msg) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, msg),
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable, retry later".to_owned(),
                )
            }
            ApiError::Timeout => {
                tracing::warn!("read request timed out");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "request timed out".to_owned(),
                )
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
