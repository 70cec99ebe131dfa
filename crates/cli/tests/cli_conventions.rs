//! Command-line conventions shared by every command (docs/runner.md, "Command-line conventions"):
//! optional values (`--wait 600` = `--wait=600`, a bare `--wait` never eats the target), boolean flags
//! spelled alike in `process` and `scan`, global `-v`/`-q` with the log going to stderr (RUST_LOG wins),
//! and `scangate completions <shell>`.

mod scan_common;

use scan_common::*;
use std::path::Path;

type Env<'a> = &'a [(&'a str, &'a str)];

const ECR: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.2";

/// The image QScanner was asked to scan (the word after `image` in its recorded argv).
fn scanned_image(dir: &Path) -> String {
    let recs = records(dir);
    assert_eq!(recs.len(), 1, "QScanner ran once");
    let argv = argv(&recs[0]);
    let i = argv.iter().position(|a| a == "image").expect("`image` in QScanner's argv");
    argv[i + 1].clone()
}

#[test]
fn wait_takes_its_value_with_or_without_equals_and_never_eats_the_image() {
    // (arguments after `scan image`, expected exit, expected scanned image or the message that explains the 2)
    // --wait 0 waits for nothing, so the scan runs; a positive wait without a bucket is refused (exit 2)
    // with the --wait message, which proves the value was read as a wait and the image was not taken for it.
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--wait", "0", "app:1"], 0, "app:1"),
        (&["--wait=0", "app:1"], 0, "app:1"),
        (&["app:1", "--wait", "0"], 0, "app:1"),
        (&["--wait", "0", ECR], 0, ECR),
        (&["--wait", "0s", ECR], 0, ECR),
        (&["--wait", "600", "app:1"], 2, "--wait needs --bucket"),
        (&["--wait=600", "app:1"], 2, "--wait needs --bucket"),
        (&["--wait", "15m", "app:1"], 2, "--wait needs --bucket"),
        // bare --wait: the documented 900 s, and the next word stays the image
        (&["--wait", "app:1"], 2, "--wait needs --bucket"),
        (&["--wait", ECR], 2, "--wait needs --bucket"),
        (&["app:1", "--wait"], 2, "--wait needs --bucket"),
        // a bad value after `=` is an error naming the flag, not a silent default
        (&["--wait=soon", "app:1"], 2, "--wait / SCANGATE_WAIT"),
    ];
    for (args, want_code, want) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = vec!["image"];
        a.extend_from_slice(args);
        let out = scan_with_fake(dir.path(), &a, &[]);
        assert_eq!(out.code, *want_code, "{args:?}: {}", out.all());
        if *want_code == 0 {
            assert_eq!(scanned_image(dir.path()), *want, "{args:?}");
        } else {
            assert!(out.stderr.contains(want), "{args:?}: expected {want:?} in {}", out.all());
            assert!(records(dir.path()).is_empty(), "{args:?}: QScanner must not run");
        }
    }
}

#[test]
fn policy_flags_are_spelled_alike_in_process_and_scan() {
    // The fixture carries policyResult DENY and critical findings: --max-critical -1 leaves the policy
    // to decide. The same spellings go to `process` and to `scan image` (fake QScanner exit 42 = DENY).
    let spellings: &[(&[&str], i32)] = &[
        (&[], 42),
        (&["--fail-on-policy-deny", "false"], 0),
        (&["--fail-on-policy-deny=false"], 0),
        (&["--fail-on-policy-deny", "no"], 0),
        (&["--fail-on-policy-deny", "0"], 0),
        (&["--fail-on-policy-deny"], 42),
        (&["--fail-on-policy-deny", "true"], 42),
        (&["--fail-on-policy-deny=off"], 0),
    ];
    let sarif = scangate_testkit::fixtures::path("qscanner-image.sarif");
    let sarif = sarif.to_str().expect("utf8 path");
    for (flags, want) in spellings {
        let dir = tempfile::tempdir().expect("tempdir");
        // process: the flag comes right before the file, so a bare flag must not take the file for its value
        let mut a = vec!["process", "--max-critical", "-1"];
        a.extend_from_slice(flags);
        a.push(sarif);
        let out = run(dir.path(), &a, &[]);
        assert_eq!(out.code, *want, "process {flags:?}: {}", out.all());

        // scan: the flag comes right before the image
        let mut a = vec!["image"];
        a.extend_from_slice(flags);
        a.push("app:1");
        let out = scan_with_fake(dir.path(), &a, &[("FAKE_QSCANNER_EXIT", "42")]);
        assert_eq!(out.code, *want, "scan {flags:?}: {}", out.all());
        assert_eq!(scanned_image(dir.path()), "app:1", "scan {flags:?}");
    }
}

#[test]
fn audit_and_offline_flags_take_values_the_same_way() {
    let cases: &[(&[&str], Env, i32)] = &[
        (&["--fail-on-policy-audit"], &[("FAKE_QSCANNER_EXIT", "43")], 42),
        (&["--fail-on-policy-audit", "yes"], &[("FAKE_QSCANNER_EXIT", "43")], 42),
        (&["--fail-on-policy-audit", "false"], &[("FAKE_QSCANNER_EXIT", "43")], 0),
        (&["--fail-on-policy-audit=false"], &[("FAIL_ON_POLICY_AUDIT", "true"), ("FAKE_QSCANNER_EXIT", "43")], 0),
    ];
    for (flags, env, want) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = vec!["image"];
        a.extend_from_slice(flags);
        a.push("app:1");
        let out = scan_with_fake(dir.path(), &a, env);
        assert_eq!(out.code, *want, "{flags:?} {env:?}: {}", out.all());
        assert_eq!(scanned_image(dir.path()), "app:1", "{flags:?}");
    }
    for (flags, offline) in
        [(&["--offline-scan"][..], true), (&["--offline-scan", "false"], false), (&["--offline-scan", "1"], true)]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = vec!["image"];
        a.extend_from_slice(flags);
        a.push("app:1");
        let out = scan_with_fake(dir.path(), &a, &[]);
        assert_eq!(out.code, 0, "{flags:?}: {}", out.all());
        let recs = records(dir.path());
        let argv = argv(&recs[0]);
        assert_eq!(argv.iter().any(|a| a == "--offline-scan"), offline, "{flags:?}: {argv:?}");
        assert_eq!(scanned_image(dir.path()), "app:1", "{flags:?}");
    }
}

#[test]
fn runner_warnings_reach_stderr_and_verbosity_flags_steer_the_log() {
    // The runner logs "qscanner ran" at debug level after every scan.
    let cases: &[(&[&str], Env, bool)] = &[
        (&["image", "app:1"], &[], false),
        (&["image", "app:1", "-vv"], &[], true),
        (&["image", "-v", "-v", "app:1"], &[], true),
        (&["image", "app:1", "-v"], &[], false),
        (&["image", "app:1"], &[("RUST_LOG", "scangate=debug")], true),
        // RUST_LOG wins over -v
        (&["image", "app:1", "-vv"], &[("RUST_LOG", "off")], false),
    ];
    for (args, env, debug_line) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = scan_with_fake(dir.path(), args, env);
        assert_eq!(out.code, 0, "{args:?}: {}", out.all());
        assert_eq!(out.stderr.contains("qscanner ran"), *debug_line, "{args:?} {env:?}: {}", out.all());
        assert!(!out.stdout.contains("qscanner ran"), "the log goes to stderr only");
    }
    // A warning (the timeout's "terminating its process group") is shown by default and hidden by -qq.
    for (quiet, shown) in [(None, true), (Some("-q"), false), (Some("-qq"), false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = vec!["image", "app:1", "--timeout", "1"];
        a.extend(quiet);
        let out = scan_with_fake(dir.path(), &a, &[("FAKE_QSCANNER_SLEEP", "60")]);
        assert_eq!(out.code, 124, "{quiet:?}: {}", out.all());
        assert_eq!(out.stderr.contains("terminating its process group"), shown, "{quiet:?}: {}", out.all());
    }
}

#[test]
fn verbose_and_quiet_together_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["-v", "-q", "process", "x.sarif"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--quiet") || out.stderr.contains("--verbose"), "{}", out.all());
}

#[test]
fn completions_are_generated_for_each_shell() {
    let cases = [
        ("bash", "_scangate()"),
        ("zsh", "#compdef scangate"),
        ("fish", "complete -c scangate"),
        ("elvish", "scangate"),
        ("powershell", "scangate"),
    ];
    for (shell, marker) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = run(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.code, 0, "{shell}: {}", out.all());
        assert!(out.stdout.contains(marker), "{shell}: no {marker:?} in the script");
        // every subcommand and a nested option are in it
        for word in ["process", "scan", "fail-on-policy-deny", "wait"] {
            assert!(out.stdout.contains(word), "{shell}: {word:?} missing");
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
}
