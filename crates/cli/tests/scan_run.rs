//! Running QScanner: arguments, token handling, exit-code mapping, timeout, outputs.

mod scan_common;

use scan_common::*;
use std::time::{Duration, Instant};

type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn exit_codes_are_mapped() {
    // (fake exit code, extra environment, expected runner exit code)
    let table: &[(i32, Env, i32)] = &[
        (0, &[], 0),
        (1, &[], 1),
        (2, &[], 2),
        (3, &[], 3),
        (7, &[], 7),
        (11, &[], 11),
        (21, &[], 21),
        (30, &[], 30),
        (39, &[], 39),
        (40, &[], 40),
        (41, &[], 41),
        (42, &[], 42),
        (42, &[("FAIL_ON_POLICY_DENY", "false")], 0),
        (43, &[], 0),
        (43, &[("FAIL_ON_POLICY_AUDIT", "true")], 42),
        (42, &[("FAIL_ON_POLICY_DENY", "true"), ("FAIL_ON_POLICY_AUDIT", "true")], 42),
    ];
    for (fake, env, want) in table {
        let dir = tempfile::tempdir().expect("tempdir");
        let code = fake.to_string();
        let mut e: Vec<(&str, &str)> = vec![("FAKE_QSCANNER_EXIT", &code)];
        e.extend_from_slice(env);
        let out = scan_with_fake(dir.path(), &["image", "app:1.0"], &e);
        assert_eq!(out.code, *want, "fake exit {fake} with {env:?}: {}", out.all());
        let o = outputs(&outputs_file(dir.path()));
        assert_eq!(o["scan_passed"], (*want == 0).to_string(), "fake exit {fake}");
        match fake {
            43 if *want == 0 => assert!(out.stderr.contains("AUDIT"), "AUDIT warning: {}", out.all()),
            42 if *want == 0 => assert!(out.stderr.contains("DENY, ignored"), "{}", out.all()),
            1..=41 => assert!(out.stderr.contains("passing its code through"), "{}", out.all()),
            _ => {}
        }
        if [42, 43].contains(fake) {
            assert_eq!(o["policy_result"], if *fake == 42 { "DENY" } else { "AUDIT" });
        }
    }
}

#[test]
fn timeout_kills_the_scanner_and_its_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child_pid_file = dir.path().join("child.pid");
    let started = Instant::now();
    let out = scan_with_fake(
        dir.path(),
        &["image", "app:1.0", "--timeout", "1"],
        &[("FAKE_QSCANNER_SLEEP", "120"), ("FAKE_QSCANNER_CHILD_PID_FILE", &child_pid_file.to_string_lossy())],
    );
    assert_eq!(out.code, 124, "{}", out.all());
    assert!(out.stderr.contains("SCAN_TIMEOUT") && out.stderr.contains("killed"), "{}", out.all());
    // Not a timing assertion: only that the runner did not wait for the 120 s sleep.
    assert!(started.elapsed() < Duration::from_secs(100));
    let scanner_pid = records(dir.path())[0]["pid"].as_u64().expect("pid") as u32;
    let child_pid: u32 = std::fs::read_to_string(&child_pid_file).expect("child pid").trim().parse().expect("pid");
    // Killed processes are reaped asynchronously by init; allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(process_gone(scanner_pid) && process_gone(child_pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(process_gone(scanner_pid), "scanner {scanner_pid} still running");
    assert!(process_gone(child_pid), "scanner's child {child_pid} still running");
    let o = outputs(&outputs_file(dir.path()));
    assert_eq!(o["scan_passed"], "false");
}

#[test]
fn the_token_never_appears_anywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(
        dir.path(),
        &["image", "app:1.0", "--print-exports"],
        &[("FAKE_QSCANNER_ECHO_TOKEN", "1"), ("RUST_LOG", "trace"), ("FAKE_QSCANNER_EXIT", "11")],
    );
    assert_eq!(out.code, 11, "{}", out.all());
    // --print-exports: the scanner's stdout goes to stderr, so stdout stays `eval`-able.
    assert!(out.stderr.contains("debug: using token ***"), "the scanner's echo is masked: {}", out.all());
    assert!(out.stderr.contains("Bearer ***"), "{}", out.all());
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN), "token leaked: {}", out.all());
    let rec = &records(dir.path())[0];
    assert_eq!(rec["token_set"], true, "the scanner got the token through its environment");
    assert!(!argv(rec).iter().any(|a| a.contains(TOKEN)), "token in argv: {rec}");
    for f in files_under(dir.path()) {
        let bytes = std::fs::read(&f).expect("read");
        assert!(!String::from_utf8_lossy(&bytes).contains(TOKEN), "token in {}", f.display());
    }
}

/// The attack: a scanner prints the token 20 000 times on one 400 KB line without a newline (the old
/// runner cut such a line at 64 KiB and masked each piece alone, so a token straddling the cut leaked).
#[test]
fn a_token_flood_on_one_long_line_never_leaks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "tok-0123456789abcdef"; // 20 bytes: 20 000 of them make one 400 KB line
    let out = scan_with_fake(
        dir.path(),
        &["image", "app:1.0"],
        &[("QUALYS_ACCESS_TOKEN", token), ("FAKE_QSCANNER_FLOOD", "20000")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.matches("***").count(), 20_000, "every copy is masked, none merged or lost");
    for piece in [token, "tok-0123456789", "0123456789abcdef", "456789abcdef"] {
        assert!(!out.stdout.contains(piece) && !out.stderr.contains(piece), "{piece:?} leaked");
    }
}

/// Proxy credentials and the download URL's user-info and query string are masked like the token.
#[test]
fn proxy_credentials_are_masked_in_the_scanner_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(
        dir.path(),
        &["image", "app:1.0"],
        &[("HTTPS_PROXY", "http://svc:pr0xy-Secret@proxy.corp:3128"), ("FAKE_QSCANNER_PRINT_ENV", "HTTPS_PROXY")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("debug: HTTPS_PROXY=http://***@proxy.corp:3128"), "{}", out.all());
    assert!(!out.all().contains("pr0xy-Secret"), "{}", out.all());
    let rec = &records(dir.path())[0];
    assert_eq!(rec["https_proxy_set"], true, "the scanner still gets the proxy");
}

#[test]
fn a_missing_token_is_a_usage_error_except_in_inventory_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = fake_qscanner();
    let fake_s = fake.to_string_lossy();
    let out = run(dir.path(), &["scan", "image", "app:1", "--qscanner-path", &fake_s], &[("QUALYS_POD", "US2")]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("QUALYS_ACCESS_TOKEN") && out.stderr.contains("QUALYS_SECRET_ID"), "{}", out.all());

    // inventory-only: no token, no POD, and a token in the environment is not handed on.
    let record = dir.path().join("record.jsonl");
    let out = run(
        dir.path(),
        &[
            "scan",
            "rootfs",
            "/tmp",
            "--mode",
            "inventory-only",
            "--format",
            "spdx,cyclonedx",
            "--qscanner-path",
            &fake_s,
        ],
        &[("FAKE_QSCANNER_RECORD", &record.to_string_lossy()), ("QUALYS_ACCESS_TOKEN", TOKEN)],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let rec = &records(dir.path())[0];
    assert_eq!(rec["token_set"], false);
    let a = argv(rec);
    assert!(!a.contains(&"--pod".to_string()), "{a:?}");
    assert!(a.windows(2).any(|w| w == ["--mode", "inventory-only"]), "{a:?}");
    let o = outputs(&outputs_file(dir.path()));
    assert!(o["sbom_path"].ends_with(".spdx.json"), "{o:?}");
    assert_eq!(o["sarif_path"], "");
}

#[test]
fn pod_is_required_when_the_platform_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = fake_qscanner();
    let out = run(
        dir.path(),
        &["scan", "image", "app:1", "--qscanner-path", &fake.to_string_lossy()],
        &[("QUALYS_ACCESS_TOKEN", TOKEN)],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--pod / QUALYS_POD"), "{}", out.all());
}

#[test]
fn bad_values_name_the_flag_and_the_variable() {
    let cases: &[(&[&str], Env, &[&str])] = &[
        (&["--pod", "US9"], &[], &["--pod", "QUALYS_POD"]),
        (&[], &[("QUALYS_POD", "MARS1")], &["QUALYS_POD"]),
        (&[], &[("SCAN_MODE", "fast")], &["SCAN_MODE", "get-report"]),
        (&[], &[("SCAN_TYPES", "pkg,malware")], &["SCAN_TYPES", "malware"]),
        (&[], &[("SCAN_TIMEOUT", "soon")], &["SCAN_TIMEOUT"]),
        (&["--format", "xml"], &[], &["--format"]),
        (&["--report-format", "pdf"], &[], &["--report-format"]),
        (&["--storage-driver", "podman"], &[], &["STORAGE_DRIVER"]),
        (&["--platform", "amd64"], &[], &["--platform"]),
        (&[], &[("FAIL_ON_POLICY_DENY", "perhaps")], &["FAIL_ON_POLICY_DENY"]),
        (&[], &[("MAX_CRITICAL", "-5")], &["MAX_"]),
        (&[], &[("QSCANNER_SHA256", "abc")], &["QSCANNER_SHA256"]),
        (&["--wait=forever"], &[], &["SCANGATE_WAIT"]),
        (&["--wait=5"], &[], &["--wait", "REPORT_BUCKET"]),
    ];
    for (args, env, needles) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = vec!["image", "app:1"];
        a.extend_from_slice(args);
        let out = scan_with_fake(dir.path(), &a, env);
        assert_eq!(out.code, 2, "{args:?} {env:?}: {}", out.all());
        for n in *needles {
            assert!(out.stderr.contains(n), "{args:?} {env:?}: expected {n:?} in {}", out.all());
        }
        assert!(records(dir.path()).is_empty(), "the scanner must not run on bad parameters");
    }
}

#[test]
fn target_starting_with_a_dash_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(dir.path(), &["image", "--", "--privileged"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(records(dir.path()).is_empty());
}

#[test]
fn options_reach_qscanner_and_flags_win_over_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(
        dir.path(),
        &[
            "image",
            "registry.example/app:2",
            "--pod",
            "EU2",
            "--storage-driver",
            "containerd",
            "--platform",
            "linux/arm64",
            "--offline-scan",
            "--report-format",
            "table,gitlab",
            "--proxy",
            "http://proxy.corp:3128",
        ],
        &[
            ("QUALYS_POD", "US1"),
            ("SCAN_TYPES", "pkg,secret"),
            ("SCAN_FORMAT", "json,cyclonedx"),
            ("OUTPUT_DIR", "out"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let a = argv(&records(dir.path())[0]);
    let has = |k: &str, v: &str| a.windows(2).any(|w| w[0] == k && w[1] == v);
    assert!(has("--pod", "EU2"), "the flag wins over QUALYS_POD: {a:?}");
    assert!(has("--scan-types", "pkg,secret"), "{a:?}");
    assert!(has("--format", "json,cyclonedx"), "{a:?}");
    assert!(has("--report-format", "table,gitlab,sarif"), "sarif is always requested: {a:?}");
    assert!(has("--mode", "get-report"), "{a:?}");
    assert!(has("--output-dir", "out"), "{a:?}");
    assert!(has("--storage-driver", "containerd") && has("--platform", "linux/arm64"), "{a:?}");
    assert!(has("--proxy", "http://proxy.corp:3128"), "{a:?}");
    assert!(a.contains(&"--offline-scan".to_string()), "{a:?}");
    assert_eq!(a[a.len() - 2..], ["image".to_string(), "registry.example/app:2".to_string()]);
    let o = outputs(&outputs_file(dir.path()));
    assert!(o["sarif_path"].starts_with("out/") && o["sarif_path"].ends_with("-Report.sarif.json"), "{o:?}");
    assert!(o["json_path"].ends_with("-ScanResult.json"), "{o:?}");
    assert!(o["sbom_path"].ends_with(".cdx.json"), "{o:?}");
}

#[test]
fn repo_and_rootfs_pass_exclusions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(
        dir.path(),
        &["repo", "--exclude-dirs", "node_modules, .git", "--offline-scan=false"],
        &[("EXCLUDE_FILES", "*.min.js")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let a = argv(&records(dir.path())[0]);
    let has = |k: &str, v: &str| a.windows(2).any(|w| w[0] == k && w[1] == v);
    assert!(has("--exclude-dirs", "node_modules,.git") && has("--exclude-files", "*.min.js"), "{a:?}");
    assert!(!a.contains(&"--offline-scan".to_string()));
    assert_eq!(a[a.len() - 2..], ["repo".to_string(), ".".to_string()], "repo defaults to the current directory");
    let out = scan_with_fake(dir.path(), &["rootfs", "--exclude-dirs=-rf"], &[("ROOTFS_PATH", "/srv/rootfs")]);
    assert_eq!(out.code, 2, "an exclusion starting with '-' is refused: {}", out.all());
}

#[test]
fn a_proxy_with_credentials_stays_off_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        scan_with_fake(dir.path(), &["image", "app:1"], &[("HTTPS_PROXY", "http://bob:pr0xyPass@proxy.corp:3128")]);
    assert_eq!(out.code, 0, "{}", out.all());
    let rec = &records(dir.path())[0];
    assert!(!argv(rec).iter().any(|a| a.contains("pr0xyPass")), "{rec}");
    assert_eq!(rec["https_proxy_set"], true);
    assert!(!out.stderr.contains("pr0xyPass") && !out.stdout.contains("pr0xyPass"), "{}", out.all());
}

#[test]
fn outputs_file_holds_every_variable_and_exports_print() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(
        dir.path(),
        &["image", "app:1", "--outputs-file", "vars/scan.env", "--print-exports"],
        &[("FAKE_QSCANNER_EXIT", "43")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let o = outputs(&dir.path().join("vars/scan.env"));
    for name in OUTPUT_NAMES {
        assert!(o.contains_key(name), "{name} missing: {o:?}");
        assert!(out.stdout.contains(&format!("export {name}=")), "{name} not exported: {}", out.all());
    }
    assert_eq!(o["scan_passed"], "true");
    assert_eq!(o["verdict_key"], "", "no bucket, no verdict key");
    // --print-exports keeps stdout clean for eval: the scanner's own stdout went to stderr.
    assert!(out.stdout.lines().all(|l| l.starts_with("export ")), "{}", out.all());
    assert!(out.stderr.contains("fake qscanner: done"), "{}", out.all());
}

#[test]
fn no_sarif_where_one_is_needed_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan_with_fake(dir.path(), &["image", "app:1", "--local"], &[("FAKE_QSCANNER_NO_SARIF", "1")]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("Report.sarif.json"), "{}", out.all());
}

#[test]
fn help_explains_exit_codes_and_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["scan", "image", "--help"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    for needle in [
        "QUALYS_POD",
        "QUALYS_SECRET_ID",
        "SCAN_TIMEOUT",
        "QSCANNER_URL",
        "QSCANNER_SHA256",
        "QSCANNER_CACHE_DIR",
        "REPORT_BUCKET",
        "REPORT_KMS_KEY_ID",
        "SCANGATE_WAIT",
        "SCANGATE_OUTPUTS_FILE",
        "FAIL_ON_POLICY_AUDIT",
        "124",
        "inventory-only",
    ] {
        assert!(out.stdout.contains(needle), "--help lacks {needle}: {}", out.stdout);
    }
}

#[test]
fn a_stopped_runner_takes_the_scanner_group_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("record.jsonl");
    let child_pid_file = dir.path().join("child.pid");
    let child = std::process::Command::new(scangate())
        .args(["scan", "image", "app:1", "--qscanner-path"])
        .arg(fake_qscanner())
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("QUALYS_ACCESS_TOKEN", TOKEN)
        .env("QUALYS_POD", "US2")
        .env("FAKE_QSCANNER_RECORD", &record)
        .env("FAKE_QSCANNER_SLEEP", "120")
        .env("FAKE_QSCANNER_CHILD_PID_FILE", &child_pid_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn scangate");
    // Wait until the scanner runs and has started its own child.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(child_pid_file.exists() && record.exists()) {
        assert!(Instant::now() < deadline, "the fake scanner never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait scangate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    let scanner_pid = records(dir.path())[0]["pid"].as_u64().expect("pid") as u32;
    let grandchild: u32 = std::fs::read_to_string(&child_pid_file).expect("pid").trim().parse().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(process_gone(scanner_pid) && process_gone(grandchild)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(process_gone(scanner_pid) && process_gone(grandchild), "scanner group survived the runner");
}

#[test]
fn local_wins_over_a_wait_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        scan_with_fake(dir.path(), &["image", "app:1", "--local", "--max-critical", "-1"], &[("SCANGATE_WAIT", "900")]);
    assert_eq!(out.code, 0, "no bucket needed, no waiting: {}", out.all());
    assert!(out.stderr.contains("in-process evaluation (--local): PASSED"), "{}", out.all());
}
