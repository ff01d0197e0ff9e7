//! The 16 Connect error codes and their HTTP statuses.

use std::fmt;
use std::str::FromStr;

use http::StatusCode;

/// A Connect error code, as carried in the `code` field of a Connect error body.
///
/// ```
/// use interceptor_bench::rpc::Code;
///
/// assert_eq!(Code::ResourceExhausted.as_str(), "resource_exhausted");
/// assert_eq!(Code::ResourceExhausted.http_status(), 429);
/// assert_eq!("deadline_exceeded".parse::<Code>(), Ok(Code::DeadlineExceeded));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The operation was canceled, typically by the caller.
    Canceled,
    /// An unknown error.
    Unknown,
    /// The client sent an invalid argument.
    InvalidArgument,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded,
    /// Some requested entity was not found.
    NotFound,
    /// The entity that a client attempted to create already exists.
    AlreadyExists,
    /// The caller does not have permission.
    PermissionDenied,
    /// Some resource has been exhausted (quota, concurrency, message size).
    ResourceExhausted,
    /// The system is not in a state required for the operation.
    FailedPrecondition,
    /// The operation was aborted.
    Aborted,
    /// The operation was attempted past the valid range.
    OutOfRange,
    /// The operation is not implemented or supported.
    Unimplemented,
    /// An invariant expected by the system has been broken.
    Internal,
    /// The service is currently unavailable; retrying may help.
    Unavailable,
    /// Unrecoverable data loss or corruption.
    DataLoss,
    /// The request lacks valid authentication credentials.
    Unauthenticated,
}

impl Code {
    /// Every code, in the order of the Connect specification.
    pub const ALL: [Code; 16] = [
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code's name on the wire (`snake_case`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Canceled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The HTTP status a Connect unary response with this code carries.
    pub const fn http_status(self) -> u16 {
        match self {
            Code::Canceled => 499,
            Code::Unknown => 500,
            Code::InvalidArgument => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::FailedPrecondition => 400,
            Code::Aborted => 409,
            Code::OutOfRange => 400,
            Code::Unimplemented => 501,
            Code::Internal => 500,
            Code::Unavailable => 503,
            Code::DataLoss => 500,
            Code::Unauthenticated => 401,
        }
    }

    /// True for the codes that mean the server failed rather than the request: `internal`,
    /// `unknown`, `unavailable`, `deadline_exceeded` and `data_loss`. The circuit breaker and the
    /// fallback count only these by default, so business errors such as `invalid_argument`
    /// never trip them.
    ///
    /// ```
    /// use interceptor_bench::rpc::Code;
    ///
    /// assert!(Code::Unavailable.is_server_failure());
    /// assert!(!Code::InvalidArgument.is_server_failure());
    /// ```
    pub const fn is_server_failure(self) -> bool {
        matches!(self, Code::Internal | Code::Unknown | Code::Unavailable | Code::DeadlineExceeded | Code::DataLoss)
    }

    /// [`Code::http_status`] as an [`http::StatusCode`].
    pub fn status_code(self) -> StatusCode {
        StatusCode::from_u16(self.http_status()).expect("every Connect status is a valid HTTP status")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no Connect code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Connect code {0:?} (expected one of canceled, unknown, invalid_argument, ...)")]
pub struct UnknownCode(pub String);

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::ALL.into_iter().find(|code| code.as_str() == s).ok_or_else(|| UnknownCode(s.to_owned()))
    }
}
