//! `run.artifacts[]`: each artifact's location uri, so a result's artifact index can be resolved.

use super::location::ArtifactLocationBody;
use crate::sarif::held::{self, Held};
use crate::sarif::lenient::{ArrBody, Keys, Obj, ObjBody, Shape};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

/// `run.artifacts[]`: only each artifact's `location.uri`, so indexes can be resolved. Each
/// entry is charged to `held`; once one does not fit, the rest are only validated (the driver
/// then stops with the reason `held` carries).
pub(crate) struct ArtifactsBody<'a> {
    pub path: &'a str,
    pub held: &'a mut Held,
}

impl<'de> ArrBody<'de> for ArtifactsBody<'_> {
    type Out = Vec<Option<String>>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        while self.held.over.is_none() {
            let Some(v) = seq.next_element_seed(Obj(ArtifactBody))? else { return Ok(out) };
            let uri = match v {
                Shape::Got(u) => u,
                _ => None,
            };
            let n = out.len() + 1;
            if self.held.charge(held::artifact(&uri), || format!("{}: {n} artifacts", self.path)) {
                out.push(uri);
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(out)
    }
}

struct ArtifactBody;

impl<'de> ObjBody<'de> for ArtifactBody {
    type Out = Option<String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut uri = None;
        while let Some(k) = map.next_key_seed(Keys(&["location"]))? {
            match k {
                Some(0) => {
                    if let Shape::Got((u, _, _)) = map.next_value_seed(Obj(ArtifactLocationBody))? {
                        uri = u;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(uri)
    }
}
