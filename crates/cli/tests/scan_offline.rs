//! Air-gapped round trip against moto: a scan without a bucket records its set
//! (scangate-offline.json), `scangate upload` later uploads it with the runner's metadata,
//! keeping the scan's time and target; a tampered set is refused.

mod scan_common;

use scan_common::*;
use scangate_testkit::{unique_bucket, Moto};
use std::path::{Path, PathBuf};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let config = rt().block_on(moto.sdk_config());
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
}

/// An offline VM disk scan (no bucket): returns the reports directory and the manifest.
fn offline_scan(dir: &Path) -> (PathBuf, serde_json::Value) {
    let disk = dir.join("disk");
    std::fs::create_dir_all(disk.join("etc")).expect("mkdir");
    std::fs::write(disk.join("etc/os-release"), "PRETTY_NAME=\"Offline Linux 2\"\n").expect("write");
    let d = disk.to_string_lossy().into_owned();
    let out = scan_with_fake(
        dir,
        &[
            "vm-disk",
            "--mount-path",
            &d,
            "--cloud",
            "aws",
            "--instance-id",
            "i-0abc",
            "--volume-id",
            "vol-0def",
            "--region",
            "eu-west-1",
            "--account-id",
            "123456789012",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let reports = work_dir(dir).join("reports");
    let manifest = reports.join("scangate-offline.json");
    assert!(out.stderr.contains("offline set recorded"), "{}", out.all());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    (reports, m)
}

fn upload(dir: &Path, moto: &Moto, reports: &Path, bucket: &str) -> Output {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = reports.to_string_lossy().into_owned();
    run(dir, &["upload", &r, "--bucket", bucket], &env)
}

#[test]
fn offline_set_is_uploaded_later_with_its_scan_time_and_target() {
    let moto = Moto::shared();
    let bucket = unique_bucket("qualys-reports");
    rt().block_on(s3(moto).create_bucket().bucket(&bucket).send()).expect("create bucket");
    let dir = tempfile::tempdir().expect("tempdir");
    let (reports, manifest) = offline_scan(dir.path());
    let meta = &manifest["metadata"];
    let scanned_at = meta["scangate-scanned-at"].as_str().expect("scanned-at").to_string();
    assert_eq!(meta["scangate-target"], "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc#vol-0def");
    assert_eq!(meta["scangate-os"], "Offline Linux 2");
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let out = upload(dir.path(), moto, &reports, &bucket);
    assert_eq!(out.code, 0, "{}", out.all());
    let listed = rt().block_on(s3(moto).list_objects_v2().bucket(&bucket).send()).expect("list");
    let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
    let sarif_key = keys.iter().find(|k| k.ends_with("/report.sarif")).unwrap_or_else(|| panic!("{keys:?}"));
    assert!(sarif_key.starts_with("scans/offline/offline-"), "{sarif_key}");
    assert!(keys.len() >= 3, "the SARIF and its companions: {keys:?}");
    let head = rt().block_on(s3(moto).head_object().bucket(&bucket).key(sarif_key).send()).expect("head");
    let m = head.metadata().expect("metadata");
    assert_eq!(m.get("scangate-scanned-at"), Some(&scanned_at), "the scan's own time is kept");
    assert_eq!(m.get("scangate-target").map(String::as_str), meta["scangate-target"].as_str());
    assert_eq!(m.get("scangate-scan-type").map(String::as_str), Some("rootfs"));
    assert_eq!(m.get("scangate-os").map(String::as_str), Some("Offline Linux 2"));
    let uploaded = m.get("scangate-uploaded-at").expect("uploaded-at");
    assert!(uploaded.as_str() > scanned_at.as_str(), "{uploaded} after {scanned_at}");
    // What the runner writes, the processor reads.
    scangate_core::contract::ReportMetadata::parse(m).expect("valid metadata");
}

/// Changes an offline set (its reports directory and manifest) the way a carrier could.
type Tamper = fn(&Path, &mut serde_json::Value);

#[test]
fn tampered_offline_sets_are_refused() {
    let moto = Moto::shared();
    let bucket = unique_bucket("qualys-reports");
    rt().block_on(s3(moto).create_bucket().bucket(&bucket).send()).expect("create bucket");
    let cases: [(&str, Tamper); 4] = [
        ("does not match the manifest", |reports, _| {
            let sarif = std::fs::read_dir(reports)
                .expect("dir")
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with("-Report.sarif.json"))
                .expect("sarif");
            std::fs::write(sarif, b"{\"version\":\"2.1.0\",\"runs\":[]}").expect("write");
        }),
        ("is not a plain name", |_, m| m["files"][0]["name"] = "../../etc/passwd".into()),
        ("is in the future", |_, m| m["metadata"]["scangate-scanned-at"] = "2099-01-01T00:00:00Z".into()),
        ("not a regular file", |reports, m| {
            std::os::unix::fs::symlink("/etc/passwd", reports.join("linked.json")).expect("symlink");
            m["files"][1]["name"] = "linked.json".into();
        }),
    ];
    for (want, tamper) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let (reports, mut manifest) = offline_scan(dir.path());
        tamper(&reports, &mut manifest);
        std::fs::write(reports.join("scangate-offline.json"), manifest.to_string()).expect("write");
        let out = upload(dir.path(), moto, &reports, &bucket);
        assert_eq!(out.code, 2, "{want}: {}", out.all());
        assert!(out.stderr.contains(want), "{want}: {}", out.all());
    }
    let listed = rt().block_on(s3(moto).list_objects_v2().bucket(&bucket).send()).expect("list");
    assert_eq!(listed.key_count(), Some(0), "nothing was uploaded");
}
