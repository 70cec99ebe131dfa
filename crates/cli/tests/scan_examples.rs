//! The example buildspecs and Slurm scripts: they parse, use flags and variables that exist, and work.

mod scan_common;

use scan_common::*;
use scangate_testkit::fixtures::repo_root;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Yaml {
    let path = repo_root().join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

fn str_list(y: &Yaml) -> Vec<String> {
    y.as_vec().map(|v| v.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// The environment variables a buildspec sets, as (name, value).
fn variables(spec: &Yaml) -> Vec<(String, String)> {
    spec["env"]["variables"]
        .as_hash()
        .expect("env.variables")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                other => panic!("variable {k:?} has a non-scalar value {other:?}"),
            };
            (k.as_str().expect("variable name").to_string(), value)
        })
        .collect()
}

/// The `scangate scan …` lines of the build phase.
fn scan_commands(spec: &Yaml) -> Vec<String> {
    str_list(&spec["phases"]["build"]["commands"]).into_iter().filter(|c| c.contains("scangate scan")).collect()
}

fn help(kind: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["scan", kind, "--help"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    // Help is wrapped to the terminal width: compare with whitespace runs collapsed.
    out.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_buildspec(name: &str, kind: &str) -> Yaml {
    let spec = load(name);
    assert_eq!(spec["version"].as_f64(), Some(0.2), "{name}: version 0.2");
    assert_eq!(str_list(&spec["env"]["exported-variables"]), OUTPUT_NAMES, "{name}: every pipeline output is exported");
    assert!(
        spec["env"]["secrets-manager"].is_badvalue(),
        "{name}: the token is not exported to every command (the runner reads QUALYS_SECRET_ID itself)"
    );
    let help = help(kind);
    for (var, _) in variables(&spec) {
        assert!(help.contains(&format!("env: {var}")), "{name}: variable {var} is not a runner variable");
    }
    let commands = scan_commands(&spec);
    assert_eq!(commands.len(), 1, "{name}: one scangate scan command");
    let words: Vec<&str> = commands[0].split_whitespace().collect();
    let at = words.iter().position(|w| *w == "scan").expect("scan");
    assert_eq!(words[at + 1], kind, "{name}");
    for w in &words {
        if let Some(flag) = w.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap_or_default();
            assert!(help.contains(&format!("--{flag}")), "{name}: flag --{flag} does not exist");
        }
    }
    assert!(!commands[0].contains("QUALYS_ACCESS_TOKEN"), "{name}: the token is not on the command line");
    // The finally copies the runner's JUnit (in its work directory) to where the reports section reads it.
    let groups = spec["reports"].as_hash().expect("reports");
    assert_eq!(groups.len(), 1, "{name}: one report group");
    let (_, group) = groups.iter().next().expect("report group");
    assert_eq!(group["file-format"].as_str(), Some("JUNITXML"));
    let base = group["base-directory"].as_str().expect("base-directory");
    let copy = format!("cp \"$SCANGATE_WORK_DIR/junit.xml\" {base}/{}", str_list(&group["files"])[0]);
    assert!(
        str_list(&spec["phases"]["build"]["finally"]).iter().any(|c| c.contains(&copy)),
        "{name}: the finally copies the JUnit where the reports section reads it ({copy})"
    );
    spec
}

#[test]
fn image_buildspec_is_valid_and_runs() {
    let spec = check_buildspec("buildspec-image.yml", "image");
    // Run its build commands (the same lines CodeBuild runs) with the fake QScanner and no bucket.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_dir = scangate().parent().expect("bin dir").to_path_buf();
    let record = dir.path().join("record.jsonl");
    let mut cmd = Command::new("bash");
    let script: Vec<String> = str_list(&spec["phases"]["build"]["commands"]);
    let finally: Vec<String> = str_list(&spec["phases"]["build"]["finally"]);
    let full = format!(
        "set -e\n{}\n{}\nrc=0\n{}\n{}\necho \"EXPORTED critical_count=$critical_count scan_passed=$scan_passed sarif_path=$sarif_path\"\n",
        work_dir_command(&spec),
        "set +e",
        script.iter().map(|c| format!("{c} || rc=$?")).collect::<Vec<_>>().join("\n"),
        finally.join("\n"),
    );
    cmd.arg("-c").arg(&full).current_dir(dir.path()).env_clear();
    cmd.env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()));
    cmd.env("HOME", dir.path()).env("TMPDIR", dir.path());
    for (k, v) in variables(&spec) {
        cmd.env(k, v);
    }
    cmd.env("SCANGATE_WAIT", "0")
        .env("QSCANNER_CACHE_DIR", dir.path().join("cache"))
        .env("QSCANNER_PATH", fake_qscanner())
        .env("QUALYS_ACCESS_TOKEN", TOKEN)
        .env("IMAGE_ID", "registry.example/app:3")
        .env("FAKE_QSCANNER_RECORD", &record);
    let out = cmd.output().expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("EXPORTED critical_count=1 scan_passed=true sarif_path={}/", dir.path().display()))
            && stdout.contains("/reports/"),
        "{stdout}\n{stderr}"
    );
    let rec = &records(dir.path())[0];
    let a = argv(rec);
    let has = |k: &str, v: &str| a.windows(2).any(|w| w[0] == k && w[1] == v);
    assert!(has("--scan-types", "pkg,fileinsight,secret") && has("--pod", "US2"), "{a:?}");
    assert_eq!(a[a.len() - 2..], ["image".to_string(), "registry.example/app:3".to_string()]);
}

/// The install commands up to the one that makes the runner's private work directory: the
/// first clears a `scangate-report/` of the checkout, the second makes the directory.
fn work_dir_command(spec: &Yaml) -> String {
    let install = str_list(&spec["phases"]["install"]["commands"]);
    let first_two = install.iter().take(2).cloned().collect::<Vec<_>>();
    assert_eq!(first_two.first().map(String::as_str), Some("rm -rf scangate-report"), "{first_two:?}");
    assert!(
        first_two.get(1).is_some_and(|c| c.starts_with("export SCANGATE_WORK_DIR=")),
        "the install phase makes the work directory second: {first_two:?}"
    );
    first_two.join("\n")
}

/// The attack: the scanned repository commits the files the old buildspec sourced (and a fake JUnit),
/// and the runner fails early (here: no POD). Nothing from the checkout runs or is reported.
#[test]
fn a_committed_outputs_file_is_never_run_when_the_runner_fails_early() {
    for name in ["buildspec-image.yml", "buildspec-repo.yml"] {
        let spec = load(name);
        let dir = tempfile::tempdir().expect("tempdir");
        let checkout = dir.path().join("src");
        std::fs::create_dir_all(checkout.join("scangate-report")).expect("mkdir");
        std::fs::create_dir_all(checkout.join("scangate-out")).expect("mkdir");
        let pwned = dir.path().join("pwned");
        let payload = format!("touch {}\nscan_passed=true\ncritical_count=0\n", pwned.display());
        for f in ["scangate-outputs.env", "outputs.env", "scangate-out/outputs.env"] {
            std::fs::write(checkout.join(f), &payload).expect("plant");
        }
        std::fs::write(checkout.join("scangate-report/junit.xml"), "<testsuites tests=\"1\"/>").expect("plant junit");
        let bin_dir = scangate().parent().expect("bin dir").to_path_buf();
        let script: Vec<String> = str_list(&spec["phases"]["build"]["commands"]);
        let finally: Vec<String> = str_list(&spec["phases"]["build"]["finally"]);
        let full = format!(
            "{}\nset +e\n{}\nset -e\n{}\necho \"EXPORTED scan_passed=$scan_passed critical_count=$critical_count\"\n",
            work_dir_command(&spec),
            script.iter().map(|c| format!("{c} || rc=$?")).collect::<Vec<_>>().join("\n"),
            finally.join("\n"),
        );
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(&full).current_dir(&checkout).env_clear();
        cmd.env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()));
        cmd.env("HOME", dir.path()).env("TMPDIR", dir.path());
        cmd.env("QUALYS_ACCESS_TOKEN", TOKEN).env("IMAGE_ID", "registry.example/app:3");
        cmd.env("CODEBUILD_SRC_DIR", &checkout).env("QSCANNER_PATH", fake_qscanner());
        let out = cmd.output().expect("bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: the finally itself must not fail: {stdout}\n{stderr}");
        assert!(stderr.contains("QUALYS_POD"), "{name}: the runner failed early as intended: {stderr}");
        assert!(!pwned.exists(), "{name}: a file from the checkout was run");
        assert!(stdout.contains("EXPORTED scan_passed=false critical_count=\n"), "{name}: {stdout}\n{stderr}");
        assert!(!checkout.join("scangate-report/junit.xml").exists(), "{name}: the planted JUnit would be published");
    }
}

#[test]
fn repo_buildspec_is_valid() {
    check_buildspec("buildspec-repo.yml", "repo");
}

fn slurm_dir() -> PathBuf {
    repo_root().join("examples/slurm")
}

#[test]
fn slurm_scripts_pass_bash_n_and_shellcheck() {
    let scripts = ["scan-target.sh", "slurm-scan.sh", "slurm-batch.sh"];
    for s in scripts {
        let status = Command::new("bash").arg("-n").arg(slurm_dir().join(s)).status().expect("bash -n");
        assert!(status.success(), "bash -n {s}");
    }
    match Command::new("shellcheck").arg("-x").args(scripts).current_dir(slurm_dir()).output() {
        Ok(out) => assert!(
            out.status.success(),
            "shellcheck:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("shellcheck not installed ({e}); only bash -n was checked"),
    }
}

/// A stand-in `apptainer` that "extracts" a SIF by creating a tiny root filesystem.
fn fake_apptainer(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = bin.join("apptainer");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = build ] && [ \"$3\" = --sandbox ] || exit 1\nmkdir -p \"$4/etc\"\necho ID=fake > \"$4/etc/os-release\"\necho \"$4\" >> \"$FAKE_APPTAINER_LOG\"\n",
    )
    .expect("write apptainer");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

fn slurm_run(dir: &Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = fake_apptainer(dir);
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let mut cmd = Command::new("bash");
    cmd.arg(slurm_dir().join(script)).args(args).current_dir(dir).env_clear();
    cmd.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("HOME", dir)
        .env("SCANGATE", scangate())
        .env("QSCANNER_PATH", fake_qscanner())
        .env("FAKE_QSCANNER_RECORD", dir.join("record.jsonl"))
        .env("FAKE_APPTAINER_LOG", dir.join("apptainer.log"))
        .env("REPORTS_DIR", dir.join("reports"))
        .env("SCRATCH_DIR", &scratch)
        .env("SCANGATE_SLURM_DIR", slurm_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const PLATFORM: [(&str, &str); 2] = [("QUALYS_ACCESS_TOKEN", TOKEN), ("QUALYS_POD", "US2")];

#[test]
fn slurm_single_job_extracts_a_sif_and_scans_the_rootfs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sif = dir.path().join("app.sif");
    std::fs::write(&sif, b"not really a SIF").expect("write sif");
    let sif_s = sif.to_string_lossy().into_owned();
    let mut env = PLATFORM.to_vec();
    env.push(("SCAN_TARGET", &sif_s));
    let out = slurm_run(dir.path(), "slurm-scan.sh", &[], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    let extracted = std::fs::read_to_string(dir.path().join("apptainer.log")).expect("apptainer ran");
    let a = argv(&records(dir.path())[0]);
    assert_eq!(a[a.len() - 2..], ["rootfs".to_string(), extracted.trim().to_string()], "{a:?}");
    assert!(!Path::new(extracted.trim()).exists(), "the extracted rootfs is removed afterwards");
    let o = outputs(&dir.path().join("reports/app.sif/scangate-outputs.env"));
    assert!(o["sarif_path"].contains("reports/app.sif/"), "{o:?}");
}

#[test]
fn slurm_exit_codes_propagate_and_images_scan_directly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = PLATFORM.to_vec();
    env.push(("FAKE_QSCANNER_EXIT", "42"));
    let out = slurm_run(dir.path(), "scan-target.sh", &["image:quay.io/example/app:1.4"], &env);
    assert_eq!(out.code, 42, "{}", out.all());
    let a = argv(&records(dir.path())[0]);
    assert_eq!(a[a.len() - 2..], ["image".to_string(), "quay.io/example/app:1.4".to_string()]);
    assert!(!dir.path().join("apptainer.log").exists(), "no extraction for an image");
}

#[test]
fn slurm_array_task_picks_its_line_and_detects_the_sif_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Not named .sif, but with the SIF magic at byte 32.
    let img = dir.path().join("legacy.img");
    let mut header = b"#!/usr/bin/env run-singularity\n\0".to_vec();
    header.extend_from_slice(b"SIF_MAGIC\0rest");
    std::fs::write(&img, header).expect("write img");
    let targets = dir.path().join("targets.txt");
    std::fs::write(&targets, format!("# comment\n\nimage:nginx:1\n  {}  \n# last\n", img.display())).expect("targets");
    let t = targets.to_string_lossy().into_owned();
    let mut env = PLATFORM.to_vec();
    env.extend_from_slice(&[("TARGETS_FILE", t.as_str()), ("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_JOB_ID", "77")]);
    let out = slurm_run(dir.path(), "slurm-batch.sh", &[], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("task 2: "), "{}", out.all());
    let a = argv(&records(dir.path())[0]);
    assert_eq!(a[a.len() - 2], "rootfs", "the .img with a SIF header is extracted: {a:?}");

    env.retain(|(k, _)| *k != "SLURM_ARRAY_TASK_ID");
    env.push(("SLURM_ARRAY_TASK_ID", "3"));
    let out = slurm_run(dir.path(), "slurm-batch.sh", &[], &env);
    assert_eq!(out.code, 2, "there is no third target: {}", out.all());
}

#[test]
fn slurm_air_gapped_inventory_writes_sboms_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).expect("rootfs");
    let out = slurm_run(dir.path(), "scan-target.sh", &[&rootfs.to_string_lossy()], &[("SCAN_MODE", "inventory-only")]);
    assert_eq!(out.code, 0, "{}", out.all());
    let rec = &records(dir.path())[0];
    assert_eq!(rec["token_set"], false);
    let a = argv(rec);
    let has = |k: &str, v: &str| a.windows(2).any(|w| w[0] == k && w[1] == v);
    assert!(has("--mode", "inventory-only") && has("--format", "spdx,cyclonedx"), "{a:?}");
    assert!(a.contains(&"--offline-scan".to_string()) && !a.contains(&"--pod".to_string()), "{a:?}");
    let o = outputs(&dir.path().join("reports/rootfs/scangate-outputs.env"));
    assert!(o["sbom_path"].ends_with(".spdx.json"), "{o:?}");
}
