//! The pipeline-gate's configuration: environment variables read once per cold start.

use std::time::Duration;

/// The function's configuration, read once per cold start.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// REPORT_BUCKET: the bucket when UserParameters names none.
    pub report_bucket: Option<String>,
    /// AWS_REGION, for console links.
    pub region: Option<String>,
    /// How long one S3 read may take before it counts as a transient failure.
    pub read_timeout: Duration,
    /// AWS_LAMBDA_FUNCTION_NAME: this function. A job whose action invokes another function is
    /// refused (no job result); unset = every job is refused.
    pub function_name: Option<String>,
    /// This function's account (EXPECTED_BUCKET_OWNER, which the stack sets to its account):
    /// an action naming a function ARN of another account names another function.
    pub account_id: Option<String>,
}

impl Config {
    pub fn from_env() -> Config {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Config {
            report_bucket: var("REPORT_BUCKET"),
            region: var("AWS_REGION"),
            read_timeout: Duration::from_secs(10),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
            account_id: expected_bucket_owner(var("EXPECTED_BUCKET_OWNER").as_deref()).ok().flatten(),
        }
    }

    /// Whether an action's `FunctionName` names this function: a name, `name:qualifier`,
    /// `account:function:name[:qualifier]` or `arn:<partition>:lambda:<region>:<account>:function:name[:qualifier]`
    /// (any version or alias of this function); a region or account that is not this function's is
    /// another function.
    pub fn is_own_function(&self, configured: &str) -> bool {
        let Some(own) = self.function_name.as_deref() else { return false };
        let parts: Vec<&str> = configured.split(':').collect();
        let (region, account, name) = match parts.as_slice() {
            [name] | [name, _] => (None, None, *name),
            [account, "function", name] | [account, "function", name, _] => (None, Some(*account), *name),
            ["arn", _, "lambda", region, account, "function", name]
            | ["arn", _, "lambda", region, account, "function", name, _] => (Some(*region), Some(*account), *name),
            _ => return false,
        };
        let same = |theirs: Option<&str>, mine: Option<&str>| match (theirs, mine) {
            (Some(t), Some(m)) => t == m,
            (Some(_), None) => false,
            (None, _) => true,
        };
        name == own && same(region, self.region.as_deref()) && same(account, self.account_id.as_deref())
    }
}

/// `EXPECTED_BUCKET_OWNER`: the account id sent as ExpectedBucketOwner with every S3 read
/// (the stack sets the function's own account). Empty or unset = not sent.
pub fn expected_bucket_owner(value: Option<&str>) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(v.to_string())),
        Some(v) => {
            Err(format!("environment variable EXPECTED_BUCKET_OWNER: expected a 12-digit account id, got {v:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_function_by_name_partial_or_full_arn() {
        let own = Config {
            function_name: Some("qualys-scangate-pipeline-gate".into()),
            region: Some("us-east-1".into()),
            account_id: Some("111111111111".into()),
            ..Config::default()
        };
        for mine in [
            "qualys-scangate-pipeline-gate",
            "qualys-scangate-pipeline-gate:live",
            "111111111111:function:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:us-east-1:111111111111:function:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:us-east-1:111111111111:function:qualys-scangate-pipeline-gate:$LATEST",
        ] {
            assert!(own.is_own_function(mine), "{mine}");
        }
        for other in [
            "deploy-approver",
            "qualys-scangate-pipeline-gate-2",
            "qualys-scangate",
            "",
            "222222222222:function:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:eu-west-1:111111111111:function:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:us-east-1:222222222222:function:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:us-east-1:111111111111:layer:qualys-scangate-pipeline-gate",
            "arn:aws:lambda:us-east-1:111111111111:function:deploy-approver",
            "a:b:c:d:e:f:g:h:i",
        ] {
            assert!(!own.is_own_function(other), "{other}");
        }
        // An ARN whose account cannot be compared is not taken as this function's; a name still is.
        let unknown_account = Config { account_id: None, ..own.clone() };
        assert!(!unknown_account
            .is_own_function("arn:aws:lambda:us-east-1:111111111111:function:qualys-scangate-pipeline-gate"));
        assert!(unknown_account.is_own_function("qualys-scangate-pipeline-gate"));
        assert!(!Config::default().is_own_function("qualys-scangate-pipeline-gate"), "unset: nothing is ours");
    }
}
