//! Where the function runs (partition, region, account): from the invoked function's ARN,
//! which every Lambda invocation carries.

/// Where the function runs: from the invoked function's ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsIdentity {
    pub partition: String,
    pub region: String,
    pub account_id: String,
}

impl AwsIdentity {
    /// Parses `arn:<partition>:lambda:<region>:<account>:function:<name>[:alias]`.
    pub fn from_function_arn(arn: &str) -> Option<AwsIdentity> {
        let mut parts = arn.split(':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let _service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        if partition.is_empty() || region.is_empty() || account.len() != 12 {
            return None;
        }
        Some(AwsIdentity { partition: partition.into(), region: region.into(), account_id: account.into() })
    }
}

impl AwsIdentity {
    /// The identity of an invocation: from `function_arn`, or, when it cannot be parsed (a
    /// local stand-in of the runtime), the partition `aws`, `fallback_region` and the
    /// placeholder account `000000000000`.
    pub fn for_invocation(function_arn: &str, fallback_region: &str) -> AwsIdentity {
        AwsIdentity::from_function_arn(function_arn).unwrap_or_else(|| AwsIdentity {
            partition: "aws".into(),
            region: fallback_region.to_string(),
            account_id: "000000000000".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::AwsIdentity;

    #[test]
    fn identity_comes_from_the_function_arn_or_the_fallback() {
        let id = AwsIdentity::for_invocation("arn:aws-cn:lambda:cn-north-1:123456789012:function:p:live", "x");
        assert_eq!(
            (id.partition.as_str(), id.region.as_str(), id.account_id.as_str()),
            ("aws-cn", "cn-north-1", "123456789012")
        );
        let id = AwsIdentity::for_invocation("not-an-arn", "eu-west-1");
        assert_eq!(
            (id.partition.as_str(), id.region.as_str(), id.account_id.as_str()),
            ("aws", "eu-west-1", "000000000000")
        );
        assert_eq!(AwsIdentity::from_function_arn("arn:aws:lambda:us-east-1:12345:function:p"), None);
    }
}
