//! The types and parsers of the runner's flag values (QScanner option lists, POD, mode, proxy URL,
//! checksum, timeouts, key parts). Every parser's error names the flag and the environment variable,
//! because the value may come from either.

use std::fmt;

/// Qualys platform PODs QScanner accepts.
pub(super) const PODS: [&str; 13] =
    ["US1", "US2", "US3", "US4", "EU1", "EU2", "EU3", "IN1", "CA1", "AE1", "UK1", "AU1", "KSA1"];

/// A validated Qualys POD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pod(String);

impl Pod {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

pub(super) fn parse_pod(s: &str) -> Result<Pod, String> {
    let up = s.trim().to_ascii_uppercase();
    if PODS.contains(&up.as_str()) {
        Ok(Pod(up))
    } else {
        Err(format!("--pod / QUALYS_POD: expected one of {}, got {s:?}", PODS.join(" ")))
    }
}

/// QScanner `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    GetReport,
    EvaluatePolicy,
    ScanOnly,
    InventoryOnly,
}

impl Mode {
    pub(crate) const ALL: [Mode; 4] = [Mode::GetReport, Mode::EvaluatePolicy, Mode::ScanOnly, Mode::InventoryOnly];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::GetReport => "get-report",
            Mode::EvaluatePolicy => "evaluate-policy",
            Mode::ScanOnly => "scan-only",
            Mode::InventoryOnly => "inventory-only",
        }
    }

    /// Whether QScanner talks to the Qualys platform (and so needs a token and a POD).
    pub(crate) fn needs_platform(self) -> bool {
        self != Mode::InventoryOnly
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) fn parse_mode(s: &str) -> Result<Mode, String> {
    let t = s.trim().to_ascii_lowercase();
    Mode::ALL.into_iter().find(|m| m.as_str() == t).ok_or_else(|| {
        format!("--mode / SCAN_MODE: expected one of {}, got {s:?}", Mode::ALL.map(Mode::as_str).join(", "))
    })
}

/// A comma-separated list whose items all come from a fixed vocabulary (kept in the user's order, deduplicated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct List(pub Vec<String>);

impl List {
    pub(crate) fn joined(&self) -> String {
        self.0.join(",")
    }

    pub(crate) fn contains(&self, item: &str) -> bool {
        self.0.iter().any(|i| i == item)
    }
}

fn parse_list(s: &str, allowed: &[&str], what: &str) -> Result<List, String> {
    let mut out: Vec<String> = Vec::new();
    for raw in s.split(',') {
        let item = raw.trim().to_ascii_lowercase();
        if item.is_empty() {
            continue;
        }
        if !allowed.contains(&item.as_str()) {
            return Err(format!("{what}: {item:?} is not one of {}", allowed.join(", ")));
        }
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(format!("{what}: expected a comma-separated list of {}, got {s:?}", allowed.join(", ")));
    }
    Ok(List(out))
}

pub(super) const SCAN_TYPES: [&str; 3] = ["pkg", "fileinsight", "secret"];
pub(super) const FORMATS: [&str; 3] = ["json", "spdx", "cyclonedx"];
pub(super) const REPORT_FORMATS: [&str; 3] = ["table", "sarif", "gitlab"];
pub(super) const STORAGE_DRIVERS: [&str; 3] = ["docker", "containerd", "none"];

pub(super) fn parse_scan_types(s: &str) -> Result<List, String> {
    parse_list(s, &SCAN_TYPES, "--scan-types / SCAN_TYPES")
}

pub(super) fn parse_formats(s: &str) -> Result<List, String> {
    parse_list(s, &FORMATS, "--format / SCAN_FORMAT")
}

pub(super) fn parse_report_formats(s: &str) -> Result<List, String> {
    parse_list(s, &REPORT_FORMATS, "--report-format / SCAN_REPORT_FORMAT")
}

pub(super) fn parse_storage_driver(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_lowercase();
    if STORAGE_DRIVERS.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(format!("--storage-driver / STORAGE_DRIVER: expected one of {}, got {s:?}", STORAGE_DRIVERS.join(", ")))
    }
}

/// `os/arch[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`.
pub(super) fn parse_platform(s: &str) -> Result<String, String> {
    let t = s.trim();
    let parts: Vec<&str> = t.split('/').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if ok {
        Ok(t.to_string())
    } else {
        Err(format!("--platform / SCAN_PLATFORM: expected os/arch[/variant] such as linux/amd64, got {s:?}"))
    }
}

/// A comma-separated list of paths or globs (exclusions). Items may not start with `-`
/// (QScanner would read them as flags) nor contain control characters.
/// A comma-separated list of paths (a newtype, so that clap takes it as one value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathList(pub Vec<String>);

pub(super) fn parse_path_list(s: &str, what: &str) -> Result<PathList, String> {
    let mut out = Vec::new();
    for raw in s.split(',') {
        let item = raw.trim();
        if item.is_empty() {
            continue;
        }
        if item.starts_with('-') || item.chars().any(char::is_control) {
            return Err(format!(
                "{what}: {item:?} is not a path or glob (it starts with '-' or has control characters)"
            ));
        }
        out.push(item.to_string());
    }
    Ok(PathList(out))
}

pub(super) fn parse_exclude_dirs(s: &str) -> Result<PathList, String> {
    parse_path_list(s, "--exclude-dirs / EXCLUDE_DIRS")
}

pub(super) fn parse_exclude_files(s: &str) -> Result<PathList, String> {
    parse_path_list(s, "--exclude-files / EXCLUDE_FILES")
}

/// Seconds, 1 to 7 days; `30`, `30s`, `15m`, `2h` accepted.
pub(super) fn parse_timeout(s: &str) -> Result<u64, String> {
    parse_seconds(s, "--timeout / SCAN_TIMEOUT", 1)
}

/// Seconds to wait for the processor's verdict (0 = do not wait).
pub(super) fn parse_wait(s: &str) -> Result<u64, String> {
    parse_seconds(s, "--wait / SCANGATE_WAIT", 0)
}

fn parse_seconds(s: &str, what: &str, min: u64) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.as_bytes().last() {
        Some(b's') => (&t[..t.len() - 1], 1),
        Some(b'm') => (&t[..t.len() - 1], 60),
        Some(b'h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{what}: expected a number of seconds (or 15m, 2h), got {s:?}"))?;
    let secs = n.saturating_mul(mult);
    if secs < min || secs > 7 * 24 * 3600 {
        return Err(format!("{what}: expected between {min} seconds and 7 days, got {s:?}"));
    }
    Ok(secs)
}

/// A proxy URL: http(s)://[user:pass@]host[:port].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl(String);

impl ProxyUrl {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the URL carries credentials (then it must not go on a command line).
    pub(crate) fn has_credentials(&self) -> bool {
        self.0.split_once("://").is_some_and(|(_, rest)| rest.split('/').next().is_some_and(|auth| auth.contains('@')))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// Shows the URL with any credentials replaced by `***`.
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((auth, host)) if !auth.contains('/') => write!(f, "{scheme}://***@{host}"),
                _ => f.write_str(&self.0),
            },
            None => f.write_str(&self.0),
        }
    }
}

/// The parts of a URL that are secrets: the user-info (`user:pass`), the password alone (raw and
/// percent-decoded, when at least 4 bytes), the query string and each query value of at least 6 bytes.
/// These are masked in QScanner's output; [`redact_url`] hides them in the runner's own messages.
pub(super) fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some((_, rest)) = url.split_once("://") else {
        return out;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some((userinfo, _)) = rest[..end].rsplit_once('@') {
        out.push(userinfo.to_string());
        if let Some((_, pass)) = userinfo.split_once(':') {
            if pass.len() >= 4 {
                out.push(pass.to_string());
                let decoded = percent_decode(pass);
                if decoded != pass {
                    out.push(decoded);
                }
            }
        }
    }
    if let Some((_, q)) = rest.split_once('?') {
        let q = q.split('#').next().unwrap_or_default();
        if !q.is_empty() {
            out.push(q.to_string());
            for pair in q.split('&') {
                if let Some((_, v)) = pair.split_once('=') {
                    if v.len() >= 6 {
                        out.push(v.to_string());
                    }
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The URL with its user-info and query string replaced by `***` (for logs and error messages).
pub(super) fn redact_url(url: &str) -> String {
    let mut shown = url.to_string();
    for s in url_secrets(url) {
        shown = shown.replace(&s, "***");
    }
    shown
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A proxy URL; `host:port` without a scheme (as curl accepts in HTTPS_PROXY) means `http://host:port`.
pub(super) fn parse_proxy(s: &str) -> Result<ProxyUrl, String> {
    let t = s.trim();
    let t = if t.contains("://") { t.to_string() } else { format!("http://{t}") };
    let host = t.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
    let ok = (t.starts_with("http://") || t.starts_with("https://") || t.starts_with("socks5://"))
        && !host.is_empty()
        && !t.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(ProxyUrl(t))
    } else {
        // Never echo the value: a proxy URL may carry a password.
        Err("--proxy / HTTPS_PROXY: expected http://, https:// or socks5:// followed by host[:port]".to_string())
    }
}

/// A lowercase 64-hex-digit SHA-256.
pub(super) fn parse_sha256(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_lowercase();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err(format!("--qscanner-sha256 / QSCANNER_SHA256: expected 64 hexadecimal digits, got {s:?}"))
    }
}

/// A download URL: https, or http to a loopback host (tests, local mirrors on the build host).
pub(super) fn parse_download_url(s: &str) -> Result<String, String> {
    let t = s.trim();
    check_download_url(t).map(|()| t.to_string()).map_err(|m| format!("--qscanner-url / QSCANNER_URL: {m}"))
}

pub(super) fn check_download_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL has whitespace or control characters".to_string());
    }
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.split('/').next().is_some_and(|h| !h.is_empty()) {
            return Ok(());
        }
        return Err(format!("no host in {url:?}"));
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            host_port.split(':').next().unwrap_or_default()
        };
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(());
        }
        return Err(format!(
            "plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1); use https for {host:?}"
        ));
    }
    Err(format!("expected an https:// URL, got {url:?}"))
}

/// A scan target (image reference or path): not empty, no leading `-`, no control characters.
pub(super) fn check_target(kind: &str, target: &str) -> Result<(), String> {
    if target.trim().is_empty() {
        return Err(format!("the {kind} to scan is empty"));
    }
    if target.starts_with('-') {
        return Err(format!("the {kind} {target:?} starts with '-' (QScanner would read it as an option)"));
    }
    if target.chars().any(char::is_control) {
        return Err(format!("the {kind} has control characters"));
    }
    Ok(())
}

/// Names usable as `<project>` and `<build-id>` in S3 keys: no `/`, no control characters, ≤ 255 bytes.
pub(super) fn parse_key_part(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 255 || t.contains('/') || t.chars().any(char::is_control) || t == "." || t == ".." {
        return Err(format!("expected a name without '/' (1-255 bytes), got {s:?}"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods() {
        for p in PODS {
            assert_eq!(parse_pod(&p.to_ascii_lowercase()).map(|p| p.0), Ok(p.to_string()));
        }
        let e = parse_pod("US9").expect_err("US9 is not a pod");
        assert!(e.contains("--pod") && e.contains("QUALYS_POD") && e.contains("KSA1"), "{e}");
    }

    #[test]
    fn lists() {
        assert_eq!(parse_scan_types("pkg, secret,pkg").map(|l| l.joined()), Ok("pkg,secret".into()));
        let e = parse_scan_types("pkg,malware").expect_err("malware is not a scan type");
        assert!(e.contains("SCAN_TYPES") && e.contains("malware"), "{e}");
        assert!(parse_formats("").is_err());
        assert_eq!(parse_report_formats("SARIF,table").map(|l| l.joined()), Ok("sarif,table".into()));
        assert!(parse_storage_driver("podman").is_err());
        assert_eq!(parse_storage_driver("containerd"), Ok("containerd".into()));
    }

    #[test]
    fn modes_and_platforms() {
        assert_eq!(parse_mode("Inventory-Only"), Ok(Mode::InventoryOnly));
        assert!(parse_mode("fast").expect_err("bad").contains("SCAN_MODE"));
        assert_eq!(parse_platform("linux/arm64/v8"), Ok("linux/arm64/v8".into()));
        assert!(parse_platform("linux").is_err());
        assert!(parse_platform("linux/amd64;rm").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_timeout("90"), Ok(90));
        assert_eq!(parse_timeout("15m"), Ok(900));
        assert_eq!(parse_timeout("2h"), Ok(7200));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").expect_err("bad").contains("SCAN_TIMEOUT"));
        assert_eq!(parse_wait("0"), Ok(0));
        assert!(parse_timeout("99999999999999999999").is_err());
    }

    #[test]
    fn urls() {
        assert!(check_download_url("https://cdn.example/qscanner.gz").is_ok());
        assert!(check_download_url("http://127.0.0.1:8080/q.gz").is_ok());
        assert!(check_download_url("http://localhost/q.gz").is_ok());
        assert!(check_download_url("http://[::1]:9/q.gz").is_ok());
        assert!(check_download_url("http://example.com/q.gz").is_err());
        assert!(check_download_url("http://127.0.0.1.evil.example/q.gz").is_err());
        assert!(check_download_url("ftp://x/q.gz").is_err());
        assert!(check_download_url("https://").is_err());
    }

    #[test]
    fn proxies_hide_credentials() {
        let p = parse_proxy("http://user:secretpw@proxy.corp:3128").expect("valid proxy");
        assert!(p.has_credentials());
        assert_eq!(p.to_string(), "http://***@proxy.corp:3128");
        assert!(!format!("{p:?}").contains("secretpw"));
        let q = parse_proxy("http://proxy.corp:3128").expect("valid proxy");
        assert!(!q.has_credentials());
        assert_eq!(parse_proxy("proxy.corp:3128").map(|p| p.expose().to_string()), Ok("http://proxy.corp:3128".into()));
        let e = parse_proxy("ftp://user:secretpw@proxy").expect_err("bad scheme");
        assert!(!e.contains("secretpw"));
        assert!(parse_proxy("http://").is_err());
    }

    #[test]
    fn url_secrets_and_redaction() {
        let url = "https://me:p%40ss-word@cdn.example/q.gz?X-Amz-Signature=abcdef123456&v=1#frag";
        let s = url_secrets(url);
        for want in ["me:p%40ss-word", "p%40ss-word", "p@ss-word", "X-Amz-Signature=abcdef123456&v=1", "abcdef123456"] {
            assert!(s.iter().any(|x| x == want), "{want} missing from {s:?}");
        }
        let shown = redact_url(url);
        assert_eq!(shown, "https://***@cdn.example/q.gz?***#frag");
        assert!(url_secrets("https://cdn.example/q.gz").is_empty());
        assert_eq!(redact_url("https://cdn.example/q.gz"), "https://cdn.example/q.gz");
        // An '@' in the path is not user-info.
        assert!(url_secrets("https://cdn.example/a@b/q.gz").is_empty());
    }

    #[test]
    fn targets_and_keys() {
        assert!(check_target("image", "--privileged").is_err());
        assert!(check_target("image", "nginx:1").is_ok());
        assert!(parse_key_part("a/b").is_err());
        assert!(parse_key_part("..").is_err());
        assert_eq!(parse_key_part(" proj "), Ok("proj".into()));
        assert!(parse_sha256(&"a".repeat(64)).is_ok());
        assert!(parse_sha256("abc").is_err());
    }
}
