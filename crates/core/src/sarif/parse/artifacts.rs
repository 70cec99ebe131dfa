//! `run.artifacts[]`: each artifact's location uri, so a result's artifact index can be resolved.

use super::location::ArtifactLocationBody;
use crate::sarif::lenient::{ArrBody, Keys, Obj, ObjBody, Shape};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

/// `run.artifacts[]`: only each artifact's `location.uri`, so indexes can be resolved.
pub(crate) struct ArtifactsBody;

impl<'de> ArrBody<'de> for ArtifactsBody {
    type Out = Vec<Option<String>>;
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Obj(ArtifactBody))? {
            out.push(match v {
                Shape::Got(u) => u,
                _ => None,
            });
        }
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
