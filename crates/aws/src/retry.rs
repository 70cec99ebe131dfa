//! Which AWS error codes are worth another attempt: the one classifier behind
//! [`crate::codebuild::CodeBuildError::is_retryable`] and
//! [`crate::securityhub::FailedFinding::is_retryable`].

/// Parts of an error code (compared lowercase) that mark it worth another attempt, whatever
/// the service: throttling, an internal error, the service unavailable.
const RETRYABLE_PARTS: [&str; 4] = ["throttl", "toomanyrequests", "internal", "unavailable"];

/// True when `code` is worth another attempt: it contains one of [`RETRYABLE_PARTS`], or
/// matches one of `also`, what the caller's service adds (lowercase: a part the code
/// contains, or, after `=`, the whole code).
pub fn is_retryable_code(code: &str, also: &[&str]) -> bool {
    let c = code.to_ascii_lowercase();
    RETRYABLE_PARTS.iter().any(|p| c.contains(p))
        || also.iter().any(|a| match a.strip_prefix('=') {
            Some(whole) => c == whole,
            None => c.contains(a),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes() {
        for (code, also, retryable) in [
            ("ThrottlingException", &[][..], true),
            ("Throttling", &[], true),
            ("TooManyRequestsException", &[], true),
            ("InternalException", &[], true),
            ("InternalFailure", &[], true),
            ("ServiceUnavailable", &[], true),
            ("InvalidInput", &[], false),
            ("AccessDeniedException", &[], false),
            ("NetworkError", &[], false),
            ("NetworkError", &["=networkerror"], true),
            ("NetworkErrors", &["=networkerror"], false),
            ("AccountLimitExceededException", &["limitexceeded", "=unknown"], true),
            ("Unknown", &["limitexceeded", "=unknown"], true),
            ("UnknownOperation", &["limitexceeded", "=unknown"], false),
        ] {
            assert_eq!(is_retryable_code(code, also), retryable, "{code} {also:?}");
        }
    }
}
