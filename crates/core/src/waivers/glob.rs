//! Path globs for waiver scopes and the normalizations scope matching compares through.

/// Matches `text` against `pattern`: `**` any sequence of characters including `/` (and
/// `**/` also no directory at all), `*` any sequence without `/`, `?` one character other
/// than `/`; everything else literally. Dynamic programming over the two strings, so the
/// cost is bounded by their lengths whatever the pattern holds.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // memo[i][j]: does p[i..] match t[j..]? 0 unknown, 1 no, 2 yes.
    let width = t.len() + 1;
    let mut memo = vec![0u8; (p.len() + 1) * width];
    // Iterate from the ends: every state depends only on states with a larger i or j.
    for i in (0..=p.len()).rev() {
        for j in (0..=t.len()).rev() {
            let get = |memo: &Vec<u8>, a: usize, b: usize| memo[a * width + b] == 2;
            let ok = if i == p.len() {
                j == t.len()
            } else if p[i] == '*' && p.get(i + 1) == Some(&'*') {
                let after = i + 2;
                // `**/`: zero directories (skip the slash too), or any run of characters.
                let skip_slash = p.get(after) == Some(&'/') && get(&memo, after + 1, j);
                skip_slash || get(&memo, after, j) || (j < t.len() && get(&memo, i, j + 1))
            } else if p[i] == '*' {
                get(&memo, i + 1, j) || (j < t.len() && t[j] != '/' && get(&memo, i, j + 1))
            } else if j == t.len() {
                false
            } else if p[i] == '?' {
                t[j] != '/' && get(&memo, i + 1, j + 1)
            } else {
                p[i] == t[j] && get(&memo, i + 1, j + 1)
            };
            memo[i * width + j] = if ok { 2 } else { 1 };
        }
    }
    memo[0] == 2
}

/// A finding's location as a scope path: no `file://`, no leading `/` or `./`.
pub(super) fn normalize_path(uri: &str) -> &str {
    let mut s = uri.trim();
    s = s.strip_prefix("file://").unwrap_or(s);
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            return s;
        }
    }
}

/// An image reference's repository: no tag, no digest, no `docker.io/` or `library/`,
/// lower case. `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`.
pub fn image_repository(reference: &str) -> String {
    let mut s = reference.trim();
    if let Some((name, _digest)) = s.split_once('@') {
        s = name;
    }
    let slash = s.rfind('/').map_or(0, |i| i + 1);
    if let Some(colon) = s[slash..].rfind(':') {
        s = &s[..slash + colon];
    }
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    let s = s.strip_prefix("library/").unwrap_or(s);
    s.to_ascii_lowercase()
}

/// A digest in an image reference (`repo@sha256:…`) or alone (`sha256:…`), lower case.
pub(super) fn image_digest(reference: &str) -> Option<String> {
    let d = reference.trim().rsplit_once('@').map_or(reference.trim(), |(_, d)| d);
    let d = d.replace("%3A", ":").replace("%3a", ":").to_ascii_lowercase();
    let (algo, hex) = d.split_once(':')?;
    let ok = matches!(algo, "sha256" | "sha512") && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(d)
}

/// A repository URL as compared: no scheme, no user, no `.git`, no trailing `/`, lower case;
/// `git@host:org/app.git` reads as `host/org/app`.
pub fn repository_url(url: &str) -> String {
    let mut s = url.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://", "ssh://", "git://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest.to_string();
        }
    }
    if let Some((user, rest)) = s.split_once('@') {
        if !user.contains('/') {
            s = rest.to_string();
        }
    }
    // scp-like `host:org/app`: the first colon before any slash separates host and path.
    if let Some(colon) = s.find(':') {
        let slash = s.find('/').unwrap_or(s.len());
        if colon < slash && !s[colon + 1..slash].bytes().all(|b| b.is_ascii_digit()) {
            s.replace_range(colon..colon + 1, "/");
        }
    }
    let mut s = s.trim_end_matches('/').to_string();
    if let Some(stripped) = s.strip_suffix(".git") {
        s = stripped.trim_end_matches('/').to_string();
    }
    s
}

/// A branch as compared: no `refs/heads/`.
pub(super) fn branch(name: &str) -> &str {
    let s = name.trim();
    s.strip_prefix("refs/heads/").unwrap_or(s)
}

/// A package URL split for scope matching: (`pkg:type/namespace/name`, version), without
/// qualifiers and subpath, type lower case.
pub(super) fn purl_parts(purl: &str) -> Option<(String, Option<String>)> {
    let s = purl.trim();
    let s = s.split_once('#').map_or(s, |(a, _)| a);
    let s = s.split_once('?').map_or(s, |(a, _)| a);
    let rest = s.strip_prefix("pkg:")?;
    let slash = rest.rfind('/').unwrap_or(0);
    let (base, version) = match rest[slash..].rfind('@') {
        Some(at) => (&rest[..slash + at], Some(rest[slash + at + 1..].to_string())),
        None => (rest, None),
    };
    let (ty, path) = base.split_once('/')?;
    if ty.is_empty() || path.is_empty() {
        return None;
    }
    Some((format!("pkg:{}/{path}", ty.to_ascii_lowercase()), version.filter(|v| !v.is_empty())))
}

/// Does the scope's purl cover the finding's? A scope without a version covers every version.
pub(super) fn purl_covers(scope: &str, finding: &str) -> bool {
    match (purl_parts(scope), purl_parts(finding)) {
        (Some((sb, sv)), Some((fb, fv))) => sb == fb && (sv.is_none() || sv == fv),
        _ => false,
    }
}
