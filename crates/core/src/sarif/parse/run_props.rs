//! `run.properties`: what it says about the scanned target (image id, name, tags, digests) and
//! the scanner's policy result.

use super::{next_str_list, wrong};
use crate::sarif::lenient::{Keys, ObjBody, Scalar};
use crate::sarif::Warnings;
use serde::de::{IgnoredAny, MapAccess};

/// `run.properties`, as far as the target and the policy go.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunProps {
    pub policy_result: Option<String>,
    pub image_id: Option<String>,
    pub image_name: Option<String>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

pub(crate) struct RunPropsBody<'a> {
    pub path: &'a str,
    pub w: &'a mut Warnings,
}

impl<'de> ObjBody<'de> for RunPropsBody<'_> {
    type Out = RunProps;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<RunProps, A::Error> {
        const F: &[&str] = &["policyResult", "imageID", "imageName", "repoTags", "repoDigests"];
        let mut p = RunProps::default();
        let mut warns = Vec::new();
        while let Some(k) = map.next_key_seed(Keys(F))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => p.policy_result = s,
                    Err(got) => warns.push(("policyResult".to_string(), wrong("a string", got))),
                },
                Some(1) => p.image_id = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(2) => p.image_name = map.next_value::<Scalar>()?.into_string().ok().flatten(),
                Some(3) => next_str_list(&mut map, &mut p.repo_tags, "repoTags", &mut warns)?,
                Some(4) => next_str_list(&mut map, &mut p.repo_digests, "repoDigests", &mut warns)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (sub, m) in warns {
            self.w.push(|| format!("{}.{sub}", self.path), m);
        }
        Ok(p)
    }
}
