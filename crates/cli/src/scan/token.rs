//! The Qualys access token: where it comes from, and a type that never shows it.

use std::fmt;

/// The environment variable QScanner reads its token from, and the runner's own source.
pub(super) const TOKEN_ENV: &str = "QUALYS_ACCESS_TOKEN";

/// A Qualys access token. `Debug` and `Display` print `[redacted]`; the value is
/// reachable only through [`AccessToken::expose`], used in exactly one place: the
/// child process environment.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct AccessToken(String);

impl AccessToken {
    /// Wraps a token, trimming surrounding whitespace (secrets pasted with a newline).
    pub(super) fn new(value: &str) -> Option<AccessToken> {
        let t = value.trim();
        if t.is_empty() {
            None
        } else {
            Some(AccessToken(t.to_string()))
        }
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a secret's value could not be turned into a token. Messages never contain the value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SecretValueError {
    Empty,
    NotJson { line: usize, column: usize },
    NoAccessToken,
}

impl fmt::Display for SecretValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValueError::Empty => f.write_str("the secret value is empty"),
            SecretValueError::NotJson { line, column } => write!(
                f,
                "the secret value starts with '{{' but is not valid JSON (error at line {line}, column {column})"
            ),
            SecretValueError::NoAccessToken => {
                f.write_str("the secret value is JSON but has no non-empty string field \"accessToken\"")
            }
        }
    }
}

/// Turns a Secrets Manager `SecretString` into a token: a plain string, or JSON with an `accessToken` field.
pub(super) fn token_from_secret_string(value: &str) -> Result<AccessToken, SecretValueError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(SecretValueError::Empty);
    }
    if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|e| SecretValueError::NotJson { line: e.line(), column: e.column() })?;
        return v
            .get("accessToken")
            .and_then(serde_json::Value::as_str)
            .and_then(AccessToken::new)
            .ok_or(SecretValueError::NoAccessToken);
    }
    AccessToken::new(t).ok_or(SecretValueError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let t = AccessToken::new(" s3cr3t-value\n").expect("non-empty");
        assert_eq!(t.expose(), "s3cr3t-value");
        assert!(!format!("{t:?} {t} {:?}", Some(&t)).contains("s3cr3t"));
        assert!(AccessToken::new("  ").is_none());
    }

    #[test]
    fn secret_strings() {
        assert_eq!(token_from_secret_string("abc").map(|t| t.expose().to_string()), Ok("abc".into()));
        assert_eq!(
            token_from_secret_string(r#"{"accessToken":"xyz","other":1}"#).map(|t| t.expose().to_string()),
            Ok("xyz".into())
        );
        assert_eq!(token_from_secret_string(r#"{"token":"xyz"}"#), Err(SecretValueError::NoAccessToken));
        assert_eq!(token_from_secret_string(r#"{"accessToken":""}"#), Err(SecretValueError::NoAccessToken));
        let e = token_from_secret_string(r#"{"accessToken":"leak"#).expect_err("broken JSON");
        assert!(matches!(e, SecretValueError::NotJson { .. }));
        assert!(!e.to_string().contains("leak"));
        assert_eq!(token_from_secret_string(""), Err(SecretValueError::Empty));
    }
}
