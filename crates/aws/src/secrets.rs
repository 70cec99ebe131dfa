//! Secrets: where the runner reads the Qualys token when it is not in its environment.
//!
//! Values travel as [`SecretValue`], whose `Debug` never shows them; errors name the
//! secret and what went wrong, never the value.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;
use std::future::Future;

/// A secret's string value. `Debug` prints `SecretValue([redacted])`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// The value. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret {secret_id}: not found (check QUALYS_SECRET_ID / --secret-id and the region)")]
    NotFound { secret_id: String },
    #[error("secret {secret_id}: access denied (the role needs secretsmanager:GetSecretValue on it, and kms:Decrypt on its key)")]
    AccessDenied { secret_id: String },
    #[error("secret {secret_id}: it has no SecretString (binary secrets are not supported)")]
    NotAString { secret_id: String },
    #[error("secret {secret_id}: GetSecretValue failed ({code}): {message}")]
    Service { secret_id: String, code: String, message: String },
}

/// A source of secret strings.
pub trait SecretSource: Send + Sync {
    /// The current `SecretString` of `secret_id` (a name or an ARN).
    fn secret_string(&self, secret_id: &str) -> impl Future<Output = Result<SecretValue, SecretError>> + Send;
}

/// [`SecretSource`] on AWS Secrets Manager.
#[derive(Clone, Debug)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> SecretsManager {
        SecretsManager { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> SecretsManager {
        SecretsManager::new(aws_sdk_secretsmanager::Client::new(config))
    }
}

impl SecretSource for SecretsManager {
    async fn secret_string(&self, secret_id: &str) -> Result<SecretValue, SecretError> {
        let out = self.client.get_secret_value().secret_id(secret_id).send().await.map_err(|err| {
            let code = err.code().unwrap_or("Unknown").to_string();
            match code.as_str() {
                "ResourceNotFoundException" => SecretError::NotFound { secret_id: secret_id.into() },
                "AccessDeniedException" | "AccessDenied" => SecretError::AccessDenied { secret_id: secret_id.into() },
                _ => SecretError::Service {
                    secret_id: secret_id.into(),
                    code,
                    // The SDK's error context never contains the secret value (the request has none).
                    message: DisplayErrorContext(&err).to_string(),
                },
            }
        })?;
        match out.secret_string {
            Some(s) => Ok(SecretValue(s)),
            None => Err(SecretError::NotAString { secret_id: secret_id.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_never_debug_printed() {
        let v = SecretValue::new("hunter2-token".into());
        assert_eq!(format!("{v:?}"), "SecretValue([redacted])");
        assert_eq!(format!("{:?}", Ok::<_, SecretError>(v.clone())), "Ok(SecretValue([redacted]))");
        assert_eq!(v.expose(), "hunter2-token");
    }

    #[test]
    fn errors_name_the_secret() {
        let e = SecretError::NotFound { secret_id: "qualys-token".into() };
        assert!(e.to_string().contains("qualys-token") && e.to_string().contains("QUALYS_SECRET_ID"));
    }

    #[tokio::test]
    async fn reads_plain_and_missing_secrets_from_moto() {
        let moto = scangate_testkit::Moto::shared();
        let name = scangate_testkit::unique_bucket("qualys-secret");
        moto.json_call(
            "secretsmanager",
            "secretsmanager.CreateSecret",
            &serde_json::json!({"Name": name, "SecretString": "{\"accessToken\":\"abc\"}"}),
        );
        let source = SecretsManager::from_config(&moto.sdk_config().await);
        let v = source.secret_string(&name).await.expect("secret exists");
        assert_eq!(v.expose(), "{\"accessToken\":\"abc\"}");
        let missing = source.secret_string("no-such-secret").await.expect_err("missing");
        assert_eq!(missing, SecretError::NotFound { secret_id: "no-such-secret".into() });
    }
}
