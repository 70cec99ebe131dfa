//! The waivers document (`scangate.waivers.v1`): parsing and validation.

use super::glob::{image_repository, purl_parts, repository_url};
use super::load::{kind, parse, Obj};
use super::{sha256_hex, ExceptionError};
use serde_json::Value;
use time::Date;

/// The schema id a waivers document declares.
pub const WAIVERS_SCHEMA: &str = "scangate.waivers.v1";
/// The longest a waiver may run when the policy does not say (`WAIVER_MAX_DAYS`).
pub const DEFAULT_MAX_DAYS: u32 = 90;
/// Waivers are at most this many per document.
pub const MAX_WAIVERS: usize = 10_000;

/// Where a waiver applies; every field given must match, and at least one of `image`,
/// `repository`, `purl`, `path` must be given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Image repository (no tag, no digest), normalized by [`image_repository`].
    pub image: Option<String>,
    /// Source repository URL, normalized by [`repository_url`].
    pub repository: Option<String>,
    /// Branch of `repository` (requires it), without `refs/heads/`.
    pub branch: Option<String>,
    /// Package URL; without a version it covers every version of the package.
    pub purl: Option<String>,
    /// Glob over the finding's location (`**`, `*`, `?`).
    pub path: Option<String>,
}

/// One waiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiver {
    /// `waivers[i]` in its document.
    pub reference: String,
    /// The vulnerability or rule id (a CVE, a QID, a rule id); compared case-insensitively
    /// with the finding's rule id and CVEs.
    pub id: String,
    pub scope: Scope,
    pub reason: String,
    pub owner: String,
    /// Last day (UTC) the waiver applies; from the next day its findings count again.
    pub expires: Date,
    pub created: Option<Date>,
}

/// A parsed and validated waivers document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaiversDocument {
    /// Where it was read from (a file path or `s3://bucket/key`), for errors and the audit.
    pub source: String,
    /// SHA-256 of the bytes read, hex.
    pub sha256: String,
    pub waivers: Vec<Waiver>,
}

const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    d.format(DATE).unwrap_or_else(|_| d.to_string())
}

fn parse_date(o: &Obj<'_>, field: &str) -> Result<Option<Date>, ExceptionError> {
    match o.opt_str(field)? {
        None => Ok(None),
        Some(s) => {
            Date::parse(s, DATE).map(Some).map_err(|_| o.err(field, format!("expected a date YYYY-MM-DD, got {s:?}")))
        }
    }
}

impl WaiversDocument {
    /// Parses and validates a waivers document read from `source`. `today` (UTC) and
    /// `max_days` decide which expiry dates are allowed: each waiver's `expires` is at most
    /// `max_days` after `today` and after its `created` date. Any invalid waiver refuses
    /// the whole document: the error names the file and the JSON path.
    pub fn parse(bytes: &[u8], source: &str, today: Date, max_days: u32) -> Result<WaiversDocument, ExceptionError> {
        let value = parse(bytes, source)?;
        let root = Obj::of(&value, "$".into(), source)?;
        root.only(&["schema", "waivers"])?;
        match root.opt_str("schema")? {
            Some(WAIVERS_SCHEMA) => {}
            Some(other) => return Err(root.err("schema", format!("expected {WAIVERS_SCHEMA:?}, got {other:?}"))),
            None => return Err(root.err("schema", format!("required field missing (expected {WAIVERS_SCHEMA:?})"))),
        }
        let items = root.opt_array("waivers")?.ok_or_else(|| root.err("waivers", "required field missing"))?;
        if items.len() > MAX_WAIVERS {
            return Err(root.err("waivers", format!("{} waivers; at most {MAX_WAIVERS}", items.len())));
        }
        let waivers = items
            .iter()
            .enumerate()
            .map(|(i, item)| waiver(item, i, source, today, max_days))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WaiversDocument { source: source.to_string(), sha256: sha256_hex(bytes), waivers })
    }
}

fn waiver(item: &Value, i: usize, file: &str, today: Date, max_days: u32) -> Result<Waiver, ExceptionError> {
    let o = Obj::of(item, format!("$.waivers[{i}]"), file)?;
    o.only(&["id", "scope", "reason", "owner", "expires", "created"])?;
    let id = o.str("id")?.to_string();
    let reason = o.str("reason")?.to_string();
    let owner = o.str("owner")?.to_string();
    let expires = parse_date(&o, "expires")?.ok_or_else(|| o.err("expires", "required field missing"))?;
    let created = parse_date(&o, "created")?;
    let max = time::Duration::days(i64::from(max_days));
    if let Some(c) = created {
        if expires < c {
            return Err(o.err("expires", format!("{} is before created {}", format_date(expires), format_date(c))));
        }
        if expires - c > max {
            return Err(o.err(
                "expires",
                format!(
                    "{} is {} days after created {}; a waiver runs at most {max_days} days (WAIVER_MAX_DAYS)",
                    format_date(expires),
                    (expires - c).whole_days(),
                    format_date(c)
                ),
            ));
        }
    }
    if expires - today > max {
        return Err(o.err(
            "expires",
            format!(
                "{} is {} days from today ({}); a waiver runs at most {max_days} days (WAIVER_MAX_DAYS)",
                format_date(expires),
                (expires - today).whole_days(),
                format_date(today)
            ),
        ));
    }
    let scope_value = o.map.get("scope").ok_or_else(|| {
        o.err("scope", "required field missing: a waiver names an image, repository, purl or path it applies to")
    })?;
    let s = Obj::of(scope_value, o.child("scope"), file)?;
    s.only(&["image", "repository", "branch", "purl", "path"])?;
    let image = match s.opt_str("image")? {
        Some(img) if img.contains('@') => {
            return Err(s.err("image", "expected an image repository without a digest (use VEX for one digest)"))
        }
        Some(img) => {
            let repo = image_repository(img);
            if repo != image_repository(&format!("{img}:x")) || repo.is_empty() {
                return Err(s.err("image", format!("expected an image repository without a tag, got {img:?}")));
            }
            Some(repo)
        }
        None => None,
    };
    let repository = s.opt_str("repository")?.map(repository_url);
    let branch = s.opt_str("branch")?.map(|b| super::glob::branch(b).to_string());
    if branch.is_some() && repository.is_none() {
        return Err(s.err("branch", "a branch needs the repository it belongs to (scope.repository)"));
    }
    let purl = match s.opt_str("purl")? {
        Some(p) if purl_parts(p).is_none() => {
            return Err(s.err("purl", format!("expected a package URL such as pkg:deb/debian/openssl, got {p:?}")))
        }
        p => p.map(str::to_string),
    };
    let path = s.opt_str("path")?.map(str::to_string);
    if image.is_none() && repository.is_none() && purl.is_none() && path.is_none() {
        return Err(ExceptionError::new(
            file,
            &o.child("scope"),
            "an unscoped waiver is refused: name at least one of image, repository, purl, path",
        ));
    }
    let _ = kind;
    Ok(Waiver {
        reference: format!("waivers[{i}]"),
        id,
        scope: Scope { image, repository, branch, purl, path },
        reason,
        owner,
        expires,
        created,
    })
}
