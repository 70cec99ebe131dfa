//! `scangate scan running`: the running containers of this host (Apptainer/Singularity
//! instances, and any process whose root or mount namespace is not PID 1's), listed with
//! `--list`, or one scanned through its root filesystem `/proc/<pid>/root` with QScanner's
//! rootfs mode, under the identity `<host>:<image>` (docs/hpc.md).
//!
//! Discovery reads `/proc` only: `/proc/<pid>/ns/mnt` and `/proc/<pid>/root` against PID 1's
//! (this process's own where PID 1 cannot be read),
//! the image from the process's `APPTAINER_CONTAINER` / `SINGULARITY_CONTAINER` environment
//! (Apptainer sets them in every container process), and `apptainer instance list --json`
//! (else `singularity …`) when that command exists, for instance names. Reading another
//! user's process needs root: such a process is listed as not readable, and scanning it fails
//! with exit 2 and says so.

use super::args::{FsOpts, GateOpts, ScannerOpts, UploadOpts};
use super::os_detect::{self, DetectedOs};
use super::run::{run_qscanner, Target};
use super::{in_root, resolve_paths};
use crate::error::CliError;
use clap::Args;
use scangate_core::host::HostFacts;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `scan running`.
#[derive(Debug, Args)]
pub(crate) struct RunningArgs {
    /// List the running containers (nothing is scanned).
    #[arg(long, help_heading = "Running containers")]
    pub list: bool,
    /// --list output: table or json.
    #[arg(long = "list-format", visible_alias = "output", default_value = "table", value_parser = ["table", "json"], help_heading = "Running containers")]
    pub list_format: String,
    /// Scan the container of this process.
    #[arg(long, env = "SCANGATE_PID", help_heading = "Running containers")]
    pub pid: Option<u32>,
    /// Scan the container with this name: an Apptainer instance name, an image path or its
    /// file name, or a process name; it must match exactly one container.
    #[arg(long, env = "SCANGATE_CONTAINER_NAME", help_heading = "Running containers")]
    pub name: Option<String>,
    /// What to record as the image when the process does not say (no APPTAINER_CONTAINER).
    #[arg(long, env = "SCANGATE_IMAGE", help_heading = "Running containers")]
    pub image: Option<String>,
    /// The proc filesystem to read (tests).
    #[arg(long, env = "SCANGATE_PROC", default_value = "/proc", hide = true)]
    pub proc_root: PathBuf,
    #[command(flatten)]
    pub fs: FsOpts,
    #[command(flatten)]
    pub scanner: ScannerOpts,
    #[command(flatten)]
    pub gate: GateOpts,
    #[command(flatten)]
    pub upload: UploadOpts,
}

/// One running container: the processes that share a root and a mount namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Container {
    /// Its lowest process id.
    pub pid: u32,
    pub pids: Vec<u32>,
    /// The first process's name (`comm`).
    pub command: String,
    /// The Apptainer instance name, when it is one.
    pub instance: Option<String>,
    /// The image (APPTAINER_CONTAINER / SINGULARITY_CONTAINER, or the instance's image).
    pub image: Option<String>,
    /// Where its root differs: `root`, `mount-ns`, or both.
    pub differs: String,
    /// Whether this user could read its root (else: run as root).
    pub readable: bool,
    pub uid: u32,
}

impl Container {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "pid": self.pid, "pids": self.pids, "command": self.command, "instance": self.instance,
            "image": self.image, "differs": self.differs, "readable": self.readable, "uid": self.uid,
        })
    }
}

/// Reads at most `cap` bytes of a /proc file.
fn read_capped(path: &Path, cap: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path).ok()?.take(cap).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// `APPTAINER_CONTAINER` or `SINGULARITY_CONTAINER` from a process's environment.
fn image_from_environ(environ: &[u8]) -> Option<String> {
    let mut found = None;
    for var in environ.split(|b| *b == 0) {
        let var = String::from_utf8_lossy(var);
        if let Some((k, v)) = var.split_once('=') {
            match k {
                "APPTAINER_CONTAINER" => return Some(v.to_string()).filter(|v| !v.is_empty()),
                "SINGULARITY_CONTAINER" => found = Some(v.to_string()).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
    }
    found
}

/// Apptainer (or Singularity) instances by PID: (name, image), from `instance list --json`.
fn apptainer_instances() -> BTreeMap<u32, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    for tool in ["apptainer", "singularity"] {
        let Ok(o) = std::process::Command::new(tool)
            .args(["instance", "list", "--json"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        else {
            continue;
        };
        if !o.status.success() {
            continue;
        }
        out.extend(parse_instance_list(&o.stdout));
        break;
    }
    out
}

/// Parses `apptainer instance list --json`: `{"instances": [{"instance", "pid", "img"}]}`.
pub(super) fn parse_instance_list(json: &[u8]) -> BTreeMap<u32, (String, Option<String>)> {
    let mut out = BTreeMap::new();
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return out;
    };
    for i in v["instances"].as_array().into_iter().flatten() {
        let (Some(name), Some(pid)) = (i["instance"].as_str(), i["pid"].as_u64()) else {
            continue;
        };
        let Ok(pid) = u32::try_from(pid) else {
            continue;
        };
        out.insert(pid, (name.to_string(), i["img"].as_str().map(str::to_string)));
    }
    out
}

/// The running containers under `proc` (see the module doc).
pub(super) fn discover(proc_root: &Path) -> Vec<Container> {
    let own = std::process::id();
    // The host's root and mount namespace: PID 1's; where PID 1 cannot be read (a sandbox that
    // hides it even from root), this process's own.
    let reference = |what: &str| {
        let init = proc_root.join("1").join(what);
        let own_dir = proc_root.join(own.to_string()).join(what);
        (init, own_dir)
    };
    let (init_ns_path, own_ns_path) = reference("ns/mnt");
    let init_ns = std::fs::read_link(init_ns_path).or_else(|_| std::fs::read_link(own_ns_path)).ok();
    let (init_root_path, own_root_path) = reference("root");
    let init_root = std::fs::metadata(init_root_path)
        .or_else(|_| std::fs::metadata(own_root_path))
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let instances = apptainer_instances();
    // Key: (mount namespace, root dev, root inode) → the container.
    let mut groups: BTreeMap<(String, u64, u64), Container> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    for pid in pids {
        if pid == own || pid == 1 {
            continue;
        }
        let dir = proc_root.join(pid.to_string());
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        // Kernel threads have no command line and share PID 1's root: skip them.
        if read_capped(&dir.join("cmdline"), 1).is_none_or(|c| c.is_empty()) {
            continue;
        }
        let ns = std::fs::read_link(dir.join("ns/mnt")).ok();
        let root = std::fs::metadata(dir.join("root")).ok().map(|m| (m.dev(), m.ino()));
        let ns_differs = ns.is_some() && init_ns.is_some() && ns != init_ns;
        let root_differs = root.is_some() && init_root.is_some() && root != init_root;
        let unreadable = root.is_none();
        let instance = instances.get(&pid).cloned();
        if !ns_differs && !root_differs && instance.is_none() {
            continue;
        }
        let differs = match (root_differs, ns_differs) {
            (true, true) => "root,mount-ns",
            (true, false) => "root",
            (false, true) => "mount-ns",
            (false, false) => "apptainer-instance",
        };
        let command = read_capped(&dir.join("comm"), 256)
            .map(|c| String::from_utf8_lossy(&c).trim().to_string())
            .unwrap_or_default();
        let image = read_capped(&dir.join("environ"), 1 << 20)
            .as_deref()
            .and_then(image_from_environ)
            .or_else(|| instance.as_ref().and_then(|(_, img)| img.clone()));
        let key = (
            ns.map(|n| n.display().to_string()).unwrap_or_default(),
            root.map_or(0, |r| r.0),
            root.map_or(u64::from(pid), |r| r.1),
        );
        let entry = groups.entry(key).or_insert_with(|| Container {
            pid,
            pids: Vec::new(),
            command: command.clone(),
            instance: None,
            image: None,
            differs: differs.to_string(),
            readable: !unreadable,
            uid: meta.uid(),
        });
        entry.pids.push(pid);
        if entry.instance.is_none() {
            entry.instance = instance.map(|(name, _)| name);
        }
        if entry.image.is_none() {
            entry.image = image;
        }
    }
    groups.into_values().collect()
}

fn print_list(list: &[Container], format: &str) {
    if format == "json" {
        let v: Vec<serde_json::Value> = list.iter().map(Container::to_json).collect();
        println!("{}", serde_json::json!({ "containers": v }));
        return;
    }
    if list.is_empty() {
        println!("no running containers found (processes whose root or mount namespace differs from PID 1's)");
        return;
    }
    println!("{:<8} {:<16} {:<16} {:<14} {:<9} IMAGE", "PID", "COMMAND", "INSTANCE", "DIFFERS", "READABLE");
    for c in list {
        println!(
            "{:<8} {:<16} {:<16} {:<14} {:<9} {}",
            c.pid,
            c.command,
            c.instance.as_deref().unwrap_or("-"),
            c.differs,
            if c.readable { "yes" } else { "no (root)" },
            c.image.as_deref().unwrap_or("-")
        );
    }
}

/// The container `--pid` or `--name` names.
fn select(a: &RunningArgs, list: &[Container]) -> Result<Container, CliError> {
    if let Some(pid) = a.pid {
        if let Some(c) = list.iter().find(|c| c.pids.contains(&pid)) {
            return Ok(c.clone());
        }
        if !a.proc_root.join(pid.to_string()).exists() {
            return Err(CliError::usage(format!("--pid {pid}: no such process")));
        }
        if let Err(e) = std::fs::metadata(a.proc_root.join(pid.to_string()).join("root")) {
            return Err(CliError::usage(format!(
                "--pid {pid}: cannot inspect its root filesystem: {e} (not permitted: another user's container \
                 can only be read as root; run as root or with sudo)"
            )));
        }
        return Err(CliError::usage(format!(
            "--pid {pid}: the process runs in the host's own root filesystem and mount namespace (not a container); \
             scan the host with `scangate scan rootfs /` instead"
        )));
    }
    let Some(name) = a.name.as_deref() else {
        return Err(CliError::usage("scan running: give --list, --pid PID or --name NAME"));
    };
    let matches: Vec<&Container> = list
        .iter()
        .filter(|c| {
            c.instance.as_deref() == Some(name)
                || c.image.as_deref() == Some(name)
                || c.image.as_deref().and_then(|i| Path::new(i).file_name()).and_then(|f| f.to_str()) == Some(name)
                || c.command == name
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CliError::usage(format!("--name {name}: no running container matches (see --list)"))),
        many => Err(CliError::usage(format!(
            "--name {name}: {} containers match (PIDs {}); use --pid",
            many.len(),
            many.iter().map(|c| c.pid.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `uname` of this node.
pub(super) fn node_facts() -> HostFacts {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| Some(c.to_string_lossy().into_owned()).filter(|v| !v.is_empty());
    HostFacts { hostname: s(u.nodename()), kernel: s(u.release()), machine: s(u.machine()), os: None }
}

pub(super) fn run(mut a: RunningArgs) -> Result<i32, CliError> {
    let list = discover(&a.proc_root);
    if a.list {
        // `--list --format json` too: json is also a valid QScanner --format, so clap takes it there.
        let json = a.list_format == "json" || a.scanner.format.joined() == "json";
        print_list(&list, if json { "json" } else { "table" });
        return Ok(crate::exit::PASSED);
    }
    let c = select(&a, &list)?;
    let root_path = a.proc_root.join(c.pid.to_string()).join("root");
    let root = in_root::open_root(&root_path).map_err(|e| {
        let hint = if matches!(e.raw_os_error(), Some(1 | 13)) {
            " (not permitted: another user's container root can only be read as root; run with sudo)"
        } else {
            ""
        };
        CliError::usage(format!("--pid {}: cannot open {}: {e}{hint}", c.pid, root_path.display()))
    })?;
    let os = os_detect::detect(&root)
        .map_err(|e| CliError::usage(format!("--pid {}: refusing its root filesystem: {e}", c.pid)))?;
    if let DetectedOs::Windows { .. } = os {
        return Err(CliError::usage(format!("--pid {}: a Windows root filesystem cannot be scanned", c.pid)));
    }
    let mut facts = node_facts();
    facts.os = os.describe();
    let image = c
        .image
        .clone()
        .or_else(|| a.image.clone())
        .or_else(|| c.instance.clone())
        .unwrap_or_else(|| format!("process:{}", c.command));
    let host = facts.hostname.clone().unwrap_or_else(|| "unknown-host".to_string());
    let target = a.fs.target_name.clone().filter(|t| !t.trim().is_empty()).unwrap_or(format!("{host}:{image}"));
    eprintln!(
        "scangate: scanning the container of PID {} ({}) through {}: target {target}; {}",
        c.pid,
        c.command,
        root_path.display(),
        facts.describe()
    );
    resolve_paths(&mut a.gate, Some(&mut a.scanner.output_dir))?;
    a.fs.target_name = Some(target);
    run_qscanner(Target::Rootfs(root_path), &a.scanner, None, Some(&a.fs), &a.gate, &a.upload, Some(&facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_and_instance_list() {
        let env = b"PATH=/bin\0SINGULARITY_CONTAINER=/old.sif\0APPTAINER_CONTAINER=/shared/app.sif\0";
        assert_eq!(image_from_environ(env).as_deref(), Some("/shared/app.sif"));
        assert_eq!(image_from_environ(b"SINGULARITY_CONTAINER=/s.sif\0").as_deref(), Some("/s.sif"));
        assert_eq!(image_from_environ(b"A=1\0"), None);
        let list = br#"{"instances":[{"instance":"web","pid":4242,"img":"/shared/web.sif","ip":""},{"pid":1}]}"#;
        let parsed = parse_instance_list(list);
        assert_eq!(parsed.get(&4242), Some(&("web".to_string(), Some("/shared/web.sif".to_string()))));
        assert_eq!(parsed.len(), 1);
        assert!(parse_instance_list(b"not json").is_empty());
    }
}
