//! AWS SDK errors read once: what the caller can do about them (`ErrorClass`) and one short line.
//! Every adapter maps its SDK errors here, so a throttling code is listed in one place only.

// Every SDK crate re-exports the same smithy types; these serve DynamoDB's errors as well as ECS's.
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::{ErrorClass, ServiceError};

/// Error codes AWS uses for "slow down", across DynamoDB, ECS, STS and SNS.
pub const THROTTLING_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ThrottledException",
];

/// What an SDK error means for the caller.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> ErrorClass
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let class = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        SdkError::ConstructionFailure(_) => ErrorClass::Other,
        _ => return class_of_code(err.code(), err.raw_response().map(|r| r.status().as_u16())),
    };
    // Credential resolution fails before anything is sent: it has no code, only its text.
    let about_credentials = DisplayErrorContext(err)
        .to_string()
        .to_lowercase()
        .contains("credential");
    if about_credentials {
        ErrorClass::Credentials
    } else {
        class
    }
}

/// The class of a service error code (and HTTP status, for codes this list does not know).
pub fn class_of_code(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => ErrorClass::Throttling,
        Some(
            "ResourceNotFoundException"
            | "ClusterNotFoundException"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist"
            | "NotFound"
            | "NotFoundException",
        ) => ErrorClass::NotFound,
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "RegionDisabledException",
        ) => ErrorClass::AccessDenied,
        Some(
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "MissingAuthenticationToken",
        ) => ErrorClass::Credentials,
        Some(
            "ValidationException"
            | "InvalidParameterException"
            | "SerializationException"
            // SNS's codes for a message it will never accept.
            | "InvalidParameter"
            | "InvalidParameterValue",
        ) => ErrorClass::Validation,
        Some(
            "InternalServerError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServerException"
            | "InternalError",
        ) => ErrorClass::Transient,
        _ => match status {
            Some(500..=599) => ErrorClass::Transient,
            Some(429) => ErrorClass::Throttling,
            _ => ErrorClass::Other,
        },
    }
}

/// `Code: message` for service errors; the full chain for transport errors, which have no code.
pub fn concise<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// The port-level error for a failed SDK call.
pub fn service_error<E>(
    operation: &'static str,
    target: impl Into<String>,
    err: &SdkError<E, HttpResponse>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    ServiceError {
        operation,
        target: target.into(),
        message: concise(err),
        class: classify(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_caller_can_do() {
        let cases = [
            ("ThrottlingException", ErrorClass::Throttling),
            (
                "ProvisionedThroughputExceededException",
                ErrorClass::Throttling,
            ),
            ("RequestLimitExceeded", ErrorClass::Throttling),
            ("ResourceNotFoundException", ErrorClass::NotFound),
            ("ClusterNotFoundException", ErrorClass::NotFound),
            ("AccessDeniedException", ErrorClass::AccessDenied),
            ("AccessDenied", ErrorClass::AccessDenied),
            ("ExpiredTokenException", ErrorClass::Credentials),
            ("UnrecognizedClientException", ErrorClass::Credentials),
            ("ValidationException", ErrorClass::Validation),
            ("InternalServerError", ErrorClass::Transient),
            ("SomethingNew", ErrorClass::Other),
        ];
        for (code, class) in cases {
            assert_eq!(class_of_code(Some(code), Some(400)), class, "{code}");
        }
        assert_eq!(
            class_of_code(Some("SomethingNew"), Some(503)),
            ErrorClass::Transient
        );
        assert_eq!(class_of_code(None, Some(429)), ErrorClass::Throttling);
        assert_eq!(class_of_code(None, None), ErrorClass::Other);
    }
}
