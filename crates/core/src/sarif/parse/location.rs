//! `result.locations`: the first location's physical location, its artifact location (uri or
//! index into `run.artifacts`) and its region's start line.

use super::{wrong, RawResult};
use crate::sarif::lenient::{ArrBody, Keys, Obj, ObjBody, Scalar, Shape};
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
