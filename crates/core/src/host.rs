//! What a scan of a host knows about the machine besides the files: the node (hostname,
//! kernel release, machine), the scanned filesystem's operating system (os-release), and,
//! for a VM disk, which VM and disk it is ([`VmTarget`]).
//!
//! These are recorded by the runner (`scangate scan running|vm-disk`) as report metadata
//! (`scangate-host`, `scangate-kernel`, `scangate-machine`, `scangate-os`,
//! crates/core/src/contract/metadata.rs), shown in the verdict's summary and as ASFF
//! ProductFields, and never part of the lifecycle identity (a kernel update must not start
//! a new lifecycle): the identity is the recorded target (docs/vm-disks.md, docs/hpc.md).

use serde::{Deserialize, Serialize};

/// The node and operating system a scan ran against. Every field is optional; blank is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The node's hostname (`uname -n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The node's kernel release (`uname -r`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The node's machine (`uname -m`: x86_64, aarch64, ppc64le).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// The scanned filesystem's operating system, from its os-release ([`OsRelease::describe`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
}

impl HostFacts {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.hostname.is_none() && self.kernel.is_none() && self.machine.is_none() && self.os.is_none()
    }

    /// `host node01, kernel 6.1.0-18-amd64 (x86_64), OS Debian GNU/Linux 12 (bookworm)`, for summaries.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(h) = &self.hostname {
            parts.push(format!("host {h}"));
        }
        match (&self.kernel, &self.machine) {
            (Some(k), Some(m)) => parts.push(format!("kernel {k} ({m})")),
            (Some(k), None) => parts.push(format!("kernel {k}")),
            (None, Some(m)) => parts.push(format!("machine {m}")),
            (None, None) => {}
        }
        if let Some(o) = &self.os {
            parts.push(format!("OS {o}"));
        }
        // The facts come from a container's files or a report's metadata: one line, no escapes.
        crate::text::display_line(&parts.join(", ")).into_owned()
    }
}

/// The fields of an os-release file (freedesktop.org os-release(5)) that scangate uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    pub name: Option<String>,
}

impl OsRelease {
    /// `PRETTY_NAME`, else `NAME VERSION_ID`, else `ID VERSION_ID`; None when none is set.
    pub fn describe(&self) -> Option<String> {
        if let Some(p) = &self.pretty_name {
            return Some(p.clone());
        }
        let base = self.name.as_ref().or(self.id.as_ref())?;
        Some(match &self.version_id {
            Some(v) => format!("{base} {v}"),
            None => base.clone(),
        })
    }
}

/// Parses os-release text: `KEY=value` lines, values bare or in single or double quotes
/// (backslash escapes inside double quotes), `#` comments and anything else ignored. Values
/// go through the one sanitizer (crate::text::display_line: no control, escape, bidi or invisible
/// character) and are kept to 256 characters each (the file is untrusted content of a scanned
/// disk or container).
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        let value: String = crate::text::display_line(&value).chars().take(256).collect();
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        match key.trim() {
            "ID" => out.id = value,
            "VERSION_ID" => out.version_id = value,
            "PRETTY_NAME" => out.pretty_name = value,
            "NAME" => out.name = value,
            _ => {}
        }
    }
    out
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2 && bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\'' {
        return v[1..v.len() - 1].to_string();
    }
    if bytes.len() >= 2 && bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"' {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}

/// The cloud a VM lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    Aws,
    Gcp,
}

/// A VM disk target as `scan vm-disk` records it (`scangate-target`): the VM and the disk,
/// `<instance>#<disk>`:
///
/// - AWS: `arn:<partition>:ec2:<region>:<account>:instance/<instance-id>#<volume-id>` (the
///   source volume the snapshot was taken from, not the temporary copy that was mounted);
/// - GCP: the instance's self-link `https://www.googleapis.com/compute/v1/projects/<project>/zones/<zone>/instances/<name>#<disk>`.
///
/// The lifecycle identity of such a scan is `target:<that string>` (rootfs rule,
/// crates/core/src/lifecycle/key.rs): the same VM disk scanned again replaces its findings,
/// another disk of the same VM has its own lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmTarget {
    pub cloud: Cloud,
    /// The instance ARN (AWS) or self-link (GCP).
    pub instance: String,
    /// The volume id (AWS) or disk name (GCP).
    pub disk: String,
}

/// Prefix of a GCP instance self-link.
pub const GCP_COMPUTE_PREFIX: &str = "https://www.googleapis.com/compute/v1/projects/";

impl VmTarget {
    /// An AWS VM disk: instance `i-…`, volume `vol-…`, region and account. Errors say what is wrong.
    pub fn aws(
        partition: &str,
        region: &str,
        account: &str,
        instance_id: &str,
        volume_id: &str,
    ) -> Result<VmTarget, String> {
        let ok_id = |v: &str, prefix: &str| {
            v.strip_prefix(prefix).is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        if !ok_id(instance_id, "i-") {
            return Err(format!("expected an EC2 instance id (i-<hex>), got {instance_id:?}"));
        }
        if !ok_id(volume_id, "vol-") {
            return Err(format!("expected an EBS volume id (vol-<hex>), got {volume_id:?}"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("expected a 12-digit AWS account id, got {account:?}"));
        }
        if !simple_name(region) || !simple_name(partition) {
            return Err(format!(
                "expected a region and partition like us-east-1 and aws, got {region:?}, {partition:?}"
            ));
        }
        Ok(VmTarget {
            cloud: Cloud::Aws,
            instance: format!("arn:{partition}:ec2:{region}:{account}:instance/{instance_id}"),
            disk: volume_id.to_string(),
        })
    }

    /// A GCP VM disk: project, zone, instance name, disk name (GCP resource names).
    pub fn gcp(project: &str, zone: &str, name: &str, disk: &str) -> Result<VmTarget, String> {
        for (what, v) in [("project", project), ("zone", zone), ("instance name", name), ("disk name", disk)] {
            if !simple_name(v) {
                return Err(format!("expected a GCP {what} (lowercase letters, digits, '-'), got {v:?}"));
            }
        }
        Ok(VmTarget {
            cloud: Cloud::Gcp,
            instance: format!("{GCP_COMPUTE_PREFIX}{project}/zones/{zone}/instances/{name}"),
            disk: disk.to_string(),
        })
    }

    /// The recorded target, `<instance>#<disk>`.
    pub fn target(&self) -> String {
        format!("{}#{}", self.instance, self.disk)
    }

    /// Reads a recorded target back; None when it is not a VM disk target.
    pub fn parse(target: &str) -> Option<VmTarget> {
        let (instance, disk) = target.trim().rsplit_once('#')?;
        if !simple_name(disk) {
            return None;
        }
        if let Some(rest) = instance.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, "ec2", region, account, resource] = parts.as_slice() else {
                return None;
            };
            let id = resource.strip_prefix("instance/")?;
            return VmTarget::aws(partition, region, account, id, disk).ok();
        }
        let rest = instance.strip_prefix(GCP_COMPUTE_PREFIX)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [project, "zones", zone, "instances", name] = parts.as_slice() else {
            return None;
        };
        VmTarget::gcp(project, zone, name, disk).ok()
    }

    /// AWS only: (partition, region, account) from the instance ARN.
    pub fn aws_parts(&self) -> Option<(&str, &str, &str)> {
        let rest = self.instance.strip_prefix("arn:")?;
        let mut it = rest.splitn(5, ':');
        let partition = it.next()?;
        it.next()?;
        let region = it.next()?;
        let account = it.next()?;
        Some((partition, region, account))
    }

    /// AWS only: the source volume's ARN.
    pub fn volume_arn(&self) -> Option<String> {
        let (partition, region, account) = self.aws_parts()?;
        Some(format!("arn:{partition}:ec2:{region}:{account}:volume/{}", self.disk))
    }
}

/// Lowercase letters, digits and `-` (1 to 63): AWS regions and partitions, EBS ids, GCP names.
fn simple_name(v: &str) -> bool {
    (1..=63).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_forms() {
        let text = "# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID='12'\nPRETTY_NAME=\"Debian \\\"12\\\"\"\nJUNK\n";
        let os = parse_os_release(text);
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.describe().as_deref(), Some("Debian \"12\""));
        let os = parse_os_release("ID=alpine\nVERSION_ID=3.19.1\n");
        assert_eq!(os.describe().as_deref(), Some("alpine 3.19.1"));
        assert_eq!(parse_os_release("").describe(), None);
        let long = format!("PRETTY_NAME=\"{}\u{1b}[31m\"", "x".repeat(10_000));
        let p = parse_os_release(&long).pretty_name.expect("set");
        assert_eq!(p.chars().count(), 256, "values are capped");
        assert!(!p.contains('\u{1b}'), "control characters are dropped");
        // A container's os-release and a report's host metadata are untrusted: no terminal
        // escape, bidi control or invisible character reaches a log line or the verdict.
        let os = parse_os_release("PRETTY_NAME=\"Evil \u{202e}exe.txt\u{1b}[2J\u{200b}\"\n");
        let p = os.pretty_name.expect("set");
        assert!(p.starts_with("Evil ") && p.contains("exe.txt"), "{p:?}");
        assert!(!p.chars().any(crate::text::is_unsafe_char), "{p:?}");
        let facts = HostFacts { hostname: Some("n\u{1b}]0;pwned\u{7}01".into()), ..HostFacts::default() };
        assert!(!facts.describe().chars().any(crate::text::is_unsafe_char), "{:?}", facts.describe());
    }

    #[test]
    fn vm_targets_round_trip() {
        let aws = VmTarget::aws("aws", "eu-west-1", "123456789012", "i-0abc123", "vol-0def456").expect("valid");
        assert_eq!(aws.target(), "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123#vol-0def456");
        assert_eq!(VmTarget::parse(&aws.target()), Some(aws.clone()));
        assert_eq!(aws.volume_arn().as_deref(), Some("arn:aws:ec2:eu-west-1:123456789012:volume/vol-0def456"));
        let gcp = VmTarget::gcp("proj-1", "europe-west1-b", "web-1", "web-1-boot").expect("valid");
        assert_eq!(
            gcp.target(),
            "https://www.googleapis.com/compute/v1/projects/proj-1/zones/europe-west1-b/instances/web-1#web-1-boot"
        );
        assert_eq!(VmTarget::parse(&gcp.target()), Some(gcp));
        for bad in ["/srv/rootfs", "node01:/shared/app.sif", "arn:aws:ec2:r:1:volume/vol-1#vol-1", "x#y", "a#B"] {
            assert_eq!(VmTarget::parse(bad), None, "{bad}");
        }
        assert!(VmTarget::aws("aws", "us-east-1", "123", "i-1", "vol-1").is_err());
        assert!(VmTarget::aws("aws", "us-east-1", "123456789012", "i-xyz", "vol-1").is_err());
        assert!(VmTarget::gcp("p", "z", "Name With Space", "d").is_err());
    }

    #[test]
    fn facts_describe() {
        let f = HostFacts {
            hostname: Some("node01".into()),
            kernel: Some("6.1.0".into()),
            machine: Some("x86_64".into()),
            os: Some("Rocky Linux 9.3".into()),
        };
        assert_eq!(f.describe(), "host node01, kernel 6.1.0 (x86_64), OS Rocky Linux 9.3");
        assert!(HostFacts::default().is_empty());
    }
}
