//! `result.locations`: the first location's physical location, its artifact location (uri or
//! index into `run.artifacts`) and its region's start line.

use super::{wrong, RawResult};
use crate::sarif::lenient::{ArrBody, Keys, Obj, ObjBody, Scalar, Shape};
use crate::sarif::message::Related;
use serde::de::{IgnoredAny, MapAccess, SeqAccess};

/// `result.locations`: only the first location is read.
pub(super) struct LocationsBody<'a> {
    pub(super) r: &'a mut RawResult,
}

impl<'de> ArrBody<'de> for LocationsBody<'_> {
    type Out = ();
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match seq.next_element_seed(Obj(LocationBody { r: &mut *self.r }))? {
            None => return Ok(()),
            Some(Shape::Got(())) => {}
            Some(Shape::Null) => self.r.warn("locations[0]", "location is null; ignored".into()),
            Some(Shape::Wrong(got)) => self.r.warn("locations[0]", wrong("an object", got)),
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct LocationBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for LocationBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key_seed(Keys(&["physicalLocation"]))? {
            match k {
                Some(0) => match map.next_value_seed(Obj(PhysicalBody { r: &mut *self.r }))? {
                    Shape::Got(()) | Shape::Null => {}
                    Shape::Wrong(got) => self.r.warn("locations[0].physicalLocation", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct PhysicalBody<'a> {
    r: &'a mut RawResult,
}

impl<'de> ObjBody<'de> for PhysicalBody<'_> {
    type Out = ();
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.r;
        while let Some(k) = map.next_key_seed(Keys(&["artifactLocation", "region"]))? {
            match k {
                Some(0) => match map.next_value_seed(Obj(ArtifactLocationBody))? {
                    Shape::Got((uri, index, bad)) => {
                        r.uri = uri;
                        r.artifact_index = index;
                        if let Some(m) = bad {
                            r.warn("locations[0].physicalLocation.artifactLocation", m);
                        }
                    }
                    Shape::Null => {}
                    Shape::Wrong(got) => {
                        r.warn("locations[0].physicalLocation.artifactLocation", wrong("an object", got))
                    }
                },
                Some(1) => match map.next_value_seed(Obj(RegionBody))? {
                    Shape::Got(Ok(line)) => r.start_line = line,
                    Shape::Got(Err(m)) => r.warn("locations[0].physicalLocation.region.startLine", m),
                    Shape::Null => {}
                    Shape::Wrong(got) => r.warn("locations[0].physicalLocation.region", wrong("an object", got)),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `artifactLocation`: `uri` and/or `index` into `run.artifacts`. `uriBaseId` is not applied:
/// the relative uri is the stable identity of a file across builds (the base changes).
pub(super) struct ArtifactLocationBody;

impl<'de> ObjBody<'de> for ArtifactLocationBody {
    type Out = (Option<String>, Option<i64>, Option<String>);
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let (mut uri, mut index, mut bad) = (None, None, None);
        while let Some(k) = map.next_key_seed(Keys(&["uri", "index"]))? {
            match k {
                Some(0) => match map.next_value::<Scalar>()?.into_string() {
                    Ok(s) => uri = s.filter(|s| !s.is_empty()),
                    Err(got) => bad = Some(format!("uri: {}", wrong("a string", got))),
                },
                Some(1) => match map.next_value::<Scalar>()?.into_i64() {
                    Ok(v) => index = v,
                    Err(got) => bad = Some(format!("index: {}", wrong("an integer", &got))),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((uri, index, bad))
    }
}

struct RegionBody;

impl<'de> ObjBody<'de> for RegionBody {
    type Out = Result<Option<u64>, String>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = Ok(None);
        while let Some(k) = map.next_key_seed(Keys(&["startLine"]))? {
            match k {
                Some(0) => {
                    out = match map.next_value::<Scalar>()?.into_i64() {
                        Ok(Some(n)) if n >= 1 => Ok(Some(n as u64)),
                        Ok(Some(n)) => Err(format!("startLine {n} is not a line number (1 or more); ignored")),
                        Ok(None) => Ok(None),
                        Err(got) => Err(wrong("an integer", &got)),
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// `result.relatedLocations`: the entries with an `id` (what an embedded link `[text](id)`
/// points at), each with its artifact location and start line; at most
/// [`super::result::MAX_RELATED`], the rest skipped. Malformed entries are skipped: a link to
/// them keeps its text.
pub(super) struct RelatedLocationsBody<'a> {
    pub(super) out: &'a mut Vec<Related>,
}

impl<'de> ArrBody<'de> for RelatedLocationsBody<'_> {
    type Out = ();
    fn body<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while self.out.len() < super::result::MAX_RELATED {
            match seq.next_element_seed(Obj(RelatedBody))? {
                None => return Ok(()),
                Some(Shape::Got(Some(r))) => self.out.push(r),
                Some(_) => {}
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct RelatedBody;

impl<'de> ObjBody<'de> for RelatedBody {
    type Out = Option<Related>;
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut id = None;
        let mut r = Related::default();
        while let Some(k) = map.next_key_seed(Keys(&["id", "physicalLocation"]))? {
            match k {
                Some(0) => id = map.next_value::<Scalar>()?.into_i64().ok().flatten(),
                Some(1) => {
                    if let Shape::Got(p) = map.next_value_seed(Obj(RelatedPhysicalBody))? {
                        (r.uri, r.artifact_index, r.line) = p;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(id.map(|id| Related { id, ..r }))
    }
}

struct RelatedPhysicalBody;

impl<'de> ObjBody<'de> for RelatedPhysicalBody {
    type Out = (Option<String>, Option<i64>, Option<u64>);
    fn body<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = (None, None, None);
        while let Some(k) = map.next_key_seed(Keys(&["artifactLocation", "region"]))? {
            match k {
                Some(0) => {
                    if let Shape::Got((uri, index, _)) = map.next_value_seed(Obj(ArtifactLocationBody))? {
                        (out.0, out.1) = (uri, index);
                    }
                }
                Some(1) => {
                    if let Shape::Got(Ok(line)) = map.next_value_seed(Obj(RegionBody))? {
                        out.2 = line;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}
