//! Hosts beyond CI images: `scan vm-disk` on directory trees laid out like VM disks (Linux,
//! Windows, hostile), and `scan running` against a stand-in container process started here
//! (a process in its own root filesystem and mount namespace, as Apptainer starts one).

mod scan_common;

use scan_common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn write(root: &Path, rel: &str, body: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, body).expect("write");
}

fn aws_args(mount: &str) -> Vec<String> {
    [
        "vm-disk",
        "--mount-path",
        mount,
        "--cloud",
        "aws",
        "--instance-id",
        "i-0abc123",
        "--volume-id",
        "vol-0def456",
        "--region",
        "eu-west-1",
        "--account-id",
        "123456789012",
        "--local",
        "--max-critical",
        "-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn scan(dir: &Path, args: &[String]) -> Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    scan_with_fake(dir, &a, &[])
}

#[test]
fn vm_disk_linux_is_scanned_as_the_vm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("disk");
    write(&disk, "usr/lib/os-release", b"PRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\nID=rocky\n");
    std::os::unix::fs::symlink("../usr/lib/os-release", disk.join("etc-link")).expect("symlink");
    write(&disk, "var/lib/rpm/rpmdb.sqlite", b"");
    let out = scan(dir.path(), &aws_args(disk.to_str().expect("utf8")));
    assert_eq!(out.code, 0, "{}", out.all());
    let rec = records(dir.path());
    assert_eq!(rec.len(), 1, "QScanner ran once: {}", out.all());
    let argv = argv(&rec[0]);
    assert_eq!(argv[argv.len() - 2..], ["rootfs".to_string(), disk.display().to_string()], "rootfs mode on the mount");
    assert!(
        out.stderr.contains("target arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123#vol-0def456"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("OS Rocky Linux 9.3 (Blue Onyx)"), "the OS is in the verdict: {}", out.all());

    // GCP: the instance's self-link and the disk.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let args: Vec<String> = [
        "vm-disk",
        "--mount-path",
        disk.to_str().expect("utf8"),
        "--cloud",
        "gcp",
        "--vm-name",
        "web-1",
        "--disk",
        "web-1-boot",
        "--gcp-project",
        "shop-prod",
        "--zone",
        "europe-west1-b",
        "--local",
        "--max-critical",
        "-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = scan(dir2.path(), &args);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains(
        "target https://www.googleapis.com/compute/v1/projects/shop-prod/zones/europe-west1-b/instances/web-1#web-1-boot"
    ));
}

#[test]
fn vm_disk_windows_and_unknown_are_refused() {
    for (layout, want) in [
        (vec!["Windows/System32/config/SYSTEM", "Program Files/x"], "Windows disk (Windows/System32 found)"),
        (vec!["EFI/BOOT/BOOTX64.EFI"], "no operating system recognised"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = dir.path().join("disk");
        for f in layout {
            write(&disk, f, b"x");
        }
        let out = scan(dir.path(), &aws_args(disk.to_str().expect("utf8")));
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(want), "{}", out.all());
        assert!(records(dir.path()).is_empty(), "QScanner never ran");
    }
    // A VM needs a name: no cloud and no --target is a usage error naming the flags.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = scan(dir.path(), &["vm-disk".into(), "--mount-path".into(), "/".into()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("name the VM"), "{}", out.all());
}

/// The disk is untrusted: `etc/os-release -> /etc/shadow` (or any file of the scanner host)
/// must not be read, `..` must stop at the mount, and a huge os-release is refused.
#[test]
fn vm_disk_os_release_links_stay_inside_the_mount() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("shadow");
    std::fs::write(&secret, "PRETTY_NAME=\"LEAKED-HOST-FILE\"\n").expect("write");
    for link in [secret.display().to_string(), format!("../../../../../../..{}", secret.display())] {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = dir.path().join("disk");
        std::fs::create_dir_all(disk.join("etc")).expect("mkdir");
        std::os::unix::fs::symlink(&link, disk.join("etc/os-release")).expect("symlink");
        write(&disk, "usr/lib/os-release", b"PRETTY_NAME=\"Disk OS 1\"\n");
        let out = scan(dir.path(), &aws_args(disk.to_str().expect("utf8")));
        assert!(!out.all().contains("LEAKED-HOST-FILE"), "read outside the mount through {link}: {}", out.all());
        assert!(out.stderr.contains("Disk OS 1"), "{}", out.all());
        assert_eq!(out.code, 0, "{}", out.all());
    }
    // The link's target inside the disk is what counts.
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("disk");
    std::fs::create_dir_all(disk.join("etc")).expect("mkdir");
    std::os::unix::fs::symlink("/etc/shadow", disk.join("etc/os-release")).expect("symlink");
    write(&disk, "etc/shadow", b"PRETTY_NAME=\"Inside The Disk\"\n");
    let out = scan(dir.path(), &aws_args(disk.to_str().expect("utf8")));
    assert!(out.stderr.contains("Inside The Disk"), "{}", out.all());
    // A huge os-release is refused, not read into memory.
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("disk");
    write(&disk, "etc/os-release", &vec![b'#'; 8 << 20]);
    let out = scan(dir.path(), &aws_args(disk.to_str().expect("utf8")));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("larger than 65536 bytes"), "{}", out.all());
    assert!(records(dir.path()).is_empty());
}

/// A root filesystem laid out like a distribution, with `sleep` and its libraries.
fn standin_rootfs(root: &Path) {
    write(root, "etc/os-release", b"PRETTY_NAME=\"Stand-in Container Linux 7\"\nID=standin\nVERSION_ID=7\n");
    write(root, "var/lib/dpkg/status", b"Package: standin\nStatus: install ok installed\nVersion: 1\n\n");
    let sleep = ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|p| Path::new(p).is_file()).expect("sleep");
    let mut files = vec![sleep.to_string()];
    let ldd = Command::new("ldd").arg(sleep).output().expect("ldd");
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            files.push(word.to_string());
        }
    }
    for f in files {
        let dest = root.join(f.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&f, &dest).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    if !root.join("bin/sleep").exists() {
        std::fs::copy(root.join(sleep.trim_start_matches('/')), root.join("bin/sleep")).expect("copy");
    }
}

/// Starts `sleep` in its own root (and mount namespace where `unshare` may make one), with the
/// image in its environment as Apptainer sets it. None (with the reason) where this host
/// forbids both.
fn start_container(root: &Path) -> Result<Child, String> {
    let attempts: [(&str, Vec<String>); 2] = [
        ("unshare", vec!["--mount".into(), format!("--root={}", root.display()), "/bin/sleep".into(), "120".into()]),
        ("chroot", vec![root.display().to_string(), "/bin/sleep".into(), "120".into()]),
    ];
    let mut why = Vec::new();
    for (prog, args) in attempts {
        let child = Command::new(prog)
            .args(&args)
            .env("APPTAINER_CONTAINER", "/shared/images/standin.sif")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                why.push(format!("{prog}: {e}"));
                continue;
            }
        };
        // Running in its own root once /proc/<pid>/root points elsewhere.
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                why.push(format!("{prog}: {status}: {}", err.trim()));
                break;
            }
            if std::fs::read_link(format!("/proc/{}/root", child.id())).is_ok_and(|r| r == root) {
                return Ok(child);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Err(why.join("; "))
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn running_container_is_listed_and_scanned_by_pid() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "SKIPPED running_container_is_listed_and_scanned_by_pid: starting a process in its own root needs root"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rootfs");
    standin_rootfs(&root);
    let child = match start_container(&root) {
        Ok(c) => Killed(c),
        Err(why) => {
            eprintln!("SKIPPED running_container_is_listed_and_scanned_by_pid: the kernel refused a stand-in container: {why}");
            return;
        }
    };
    let pid = child.0.id();

    let out = run(dir.path(), &["scan", "running", "--list", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.all()));
    let found = v["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["pid"] == pid)
        .unwrap_or_else(|| panic!("PID {pid} not listed: {}", out.stdout))
        .clone();
    assert_eq!(found["image"], "/shared/images/standin.sif");
    assert!(found["differs"].as_str().expect("differs").contains("root"), "{found}");
    assert_eq!(found["readable"], true);
    let table = run(dir.path(), &["scan", "running", "--list"], &[]);
    assert!(table.stdout.contains(&pid.to_string()) && table.stdout.contains("standin.sif"), "{}", table.all());

    let pid_s = pid.to_string();
    let out = scan_with_fake(dir.path(), &["running", "--pid", &pid_s, "--local", "--max-critical", "-1"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let rec = records(dir.path());
    assert_eq!(rec.len(), 1, "{}", out.all());
    let argv = argv(&rec[0]);
    assert_eq!(argv[argv.len() - 2..], ["rootfs".to_string(), format!("/proc/{pid}/root")]);
    let u = rustix::system::uname();
    let host = u.nodename().to_string_lossy().into_owned();
    let kernel = u.release().to_string_lossy().into_owned();
    let machine = u.machine().to_string_lossy().into_owned();
    let want_target = format!("target {host}:/shared/images/standin.sif");
    assert!(out.stderr.contains(&want_target), "{want_target}: {}", out.all());
    let want_facts = format!("host {host}, kernel {kernel} ({machine}), OS Stand-in Container Linux 7");
    assert!(out.stderr.contains(&want_facts), "{want_facts}: {}", out.all());

    // By name: the image's file name matches exactly this container.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let out =
        scan_with_fake(dir2.path(), &["running", "--name", "standin.sif", "--local", "--max-critical", "-1"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());

    // Not root: the container's root cannot be opened; exit 2 says why.
    if Path::new("/usr/bin/setpriv").exists() {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(scangate())
            .args(["scan", "running", "--pid", &pid_s, "--mode", "inventory-only", "--qscanner-path", "/bin/true"])
            .env("SCANGATE_WORK_DIR", "/tmp/scangate-nobody-unused")
            .output()
            .expect("setpriv");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("run as root") || stderr.contains("not permitted"), "{stderr}");
    }
    // A process of the host is not a container.
    let own = std::process::id().to_string();
    let out = scan_with_fake(dir2.path(), &["running", "--pid", &own], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("not a container"), "{}", out.all());
}
