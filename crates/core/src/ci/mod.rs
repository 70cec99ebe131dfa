//! Findings in the places developers of other CI systems look (docs/ci/): GitHub code scanning
//! SARIF within GitHub's upload limits ([`code_scanning`]) and GitLab's container scanning
//! report in its published schema ([`gitlab`]). Pure: findings in, documents out.

pub mod code_scanning;
pub mod gitlab;

/// A SARIF-safe category from a scan type and a target: `scangate/<scan type>/<target>/`,
/// the target's characters outside `[A-Za-z0-9._-]` replaced by `-` and cut at 100 bytes,
/// so each image or repository keeps its own set of alerts in code scanning.
pub fn category(scan_type: &str, target: &str) -> String {
    let mut slug: String = target
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    slug.truncate(100);
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "target" } else { slug };
    format!("scangate/{scan_type}/{slug}/")
}

#[cfg(test)]
mod tests {
    use super::category;

    #[test]
    fn categories_are_one_path_segment_per_part() {
        assert_eq!(
            category("image", "123.dkr.ecr.eu-west-1.amazonaws.com/app:1.2"),
            "scangate/image/123.dkr.ecr.eu-west-1.amazonaws.com-app-1.2/"
        );
        assert_eq!(category("repo", "https://github.com/octo/app"), "scangate/repo/https---github.com-octo-app/");
        assert_eq!(category("other", "///"), "scangate/other/target/");
        assert_eq!(category("image", &"a".repeat(300)).len(), "scangate/image/".len() + 100 + 1);
    }
}
