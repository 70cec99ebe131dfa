//! `scangate doctor` against moto: a deployment that can scan (every line ok, exit 0) and one
//! that cannot (each missing piece named with a hint, exit 1), and the token is never printed.

use scangate_testkit::{unique_bucket, Moto, ACCOUNT_ID, REGION};
use std::process::{Command, Output};

const TOKEN: &str = "tok-doctor-never-printed-4711";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let config = rt().block_on(moto.sdk_config());
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
}

fn doctor(moto: &Moto, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scangate"));
    cmd.arg("doctor").env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("run scangate doctor");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(TOKEN), "the token was printed:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// The status word of the check named `name`.
fn status<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(name)).then(|| words.next()).flatten()
        })
        .unwrap_or_else(|| panic!("no line for {name} in:\n{text}"))
}

fn secret(moto: &Moto, value: &str) -> String {
    let name = unique_bucket("qualys-doctor-credentials");
    moto.json_call(
        "secretsmanager",
        "secretsmanager.CreateSecret",
        &serde_json::json!({"Name": name, "SecretString": value}),
    );
    name
}

/// A report bucket like the stack's: default SSE-KMS with `key`, and optionally the scans/ → queue notification.
fn bucket(moto: &Moto, key: &str, notify: bool) -> String {
    use aws_sdk_s3::types::*;
    let client = s3(moto);
    let name = unique_bucket("qualys-doctor-reports");
    rt().block_on(async {
        client.create_bucket().bucket(&name).send().await.expect("create bucket");
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(key)
            .build()
            .expect("sse default");
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build())
            .build()
            .expect("sse configuration");
        client
            .put_bucket_encryption()
            .bucket(&name)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .expect("put bucket encryption");
        if notify {
            let queue = format!("{name}-q");
            moto.json_call("sqs", "AmazonSQS.CreateQueue", &serde_json::json!({"QueueName": queue}));
            let rule = |n: FilterRuleName, v: &str| FilterRule::builder().name(n).value(v).build();
            let filter = NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(rule(FilterRuleName::Prefix, "scans/"))
                        .filter_rules(rule(FilterRuleName::Suffix, ".sarif"))
                        .build(),
                )
                .build();
            let q = QueueConfiguration::builder()
                .queue_arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"))
                .events(Event::from("s3:ObjectCreated:*"))
                .filter(filter)
                .build()
                .expect("queue configuration");
            client
                .put_bucket_notification_configuration()
                .bucket(&name)
                .notification_configuration(NotificationConfiguration::builder().queue_configurations(q).build())
                .send()
                .await
                .expect("put bucket notification");
        }
    });
    name
}

#[test]
fn a_deployment_that_can_scan_is_ready() {
    let moto = Moto::pooled();
    let key = moto.create_kms_key();
    let secret = secret(&moto, &format!("{{\"accessToken\":\"{TOKEN}\"}}"));
    let bucket = bucket(&moto, &key, true);
    let config = rt().block_on(moto.sdk_config());
    rt().block_on(aws_sdk_securityhub::Client::new(&config).enable_security_hub().send()).expect("enable hub");
    let sha = "0123456789abcdef".repeat(4);
    let (code, text) = doctor(
        &moto,
        &[
            ("QUALYS_SECRET_ID", secret.as_str()),
            ("QSCANNER_URL", "https://downloads.example.com/qscanner.gz"),
            ("QSCANNER_SHA256", sha.as_str()),
            ("REPORT_BUCKET", bucket.as_str()),
            ("REPORT_KMS_KEY_ID", key.as_str()),
        ],
    );
    for name in ["token", "qscanner", "bucket", "kms-key", "queue", "security-hub"] {
        assert_eq!(status(&text, name), "ok", "{name}:\n{text}");
    }
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("owner {ACCOUNT_ID}")), "{text}");
}

#[test]
fn a_deployment_that_cannot_scan_says_what_is_missing() {
    let moto = Moto::pooled();
    let key = moto.create_kms_key();
    // What the stack puts into the secret until the user replaces it.
    let placeholder = secret(
        &moto,
        &format!("{{\"note\":\"replace accessToken with the Qualys access token\",\"accessToken\":\"{TOKEN}\"}}"),
    );
    let bucket = bucket(&moto, &key, false);
    // No QScanner source, no KMS key variable, no notification, Security Hub not enabled.
    let (code, text) = doctor(&moto, &[("QUALYS_SECRET_ID", placeholder.as_str()), ("REPORT_BUCKET", bucket.as_str())]);
    assert_eq!(code, 1, "{text}");
    for (name, want) in [
        ("token", "missing"),
        ("qscanner", "missing"),
        ("bucket", "ok"),
        ("kms-key", "missing"),
        ("queue", "missing"),
        ("security-hub", "missing"),
    ] {
        assert_eq!(status(&text, name), want, "{name}:\n{text}");
    }
    assert!(text.contains("placeholder") && text.contains("QScannerSha256"), "hints:\n{text}");

    // A pin without a URL's checksum, a wrong key and a bucket that is not there.
    let (code, text) = doctor(
        &moto,
        &[
            ("QUALYS_ACCESS_TOKEN", TOKEN),
            ("QSCANNER_URL", "https://downloads.example.com/qscanner.gz"),
            ("REPORT_BUCKET", "qualys-doctor-no-such-bucket"),
            ("REPORT_KMS_KEY_ID", key.as_str()),
            ("SECURITY_HUB_ENABLED", "false"),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(status(&text, "token"), "ok", "{text}");
    assert_eq!(status(&text, "qscanner"), "missing", "{text}");
    assert_eq!(status(&text, "bucket"), "missing", "{text}");
    assert_eq!(status(&text, "kms-key"), "skipped", "{text}");
    assert_eq!(status(&text, "security-hub"), "skipped", "{text}");

    // Another key than the bucket's.
    let other = moto.create_kms_key();
    let with_queue = self::bucket(&moto, &key, true);
    let (_, text) = doctor(
        &moto,
        &[
            ("QUALYS_ACCESS_TOKEN", TOKEN),
            ("REPORT_BUCKET", with_queue.as_str()),
            ("REPORT_KMS_KEY_ID", other.as_str()),
        ],
    );
    assert_eq!(status(&text, "kms-key"), "failed", "{text}");
    assert_eq!(status(&text, "queue"), "ok", "{text}");
}
