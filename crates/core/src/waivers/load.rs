//! Reading an exceptions document (JSON or YAML) into a JSON value, and the path-carrying
//! accessors every field is read through, so an error names the file and the JSON path.

use super::ExceptionError;
use serde_json::{Map, Value};

/// Largest exceptions document read (bytes); a bigger one is refused, not truncated.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// Parses `bytes` as JSON when it starts with `{` (after whitespace), else as YAML.
pub(super) fn parse(bytes: &[u8], file: &str) -> Result<Value, ExceptionError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ExceptionError::new(
            file,
            "$",
            format!("the document has {} bytes; at most {MAX_DOCUMENT_BYTES} are read", bytes.len()),
        ));
    }
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'{') {
        return serde_json::from_slice(bytes).map_err(|e| {
            ExceptionError::new(file, "$", format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()))
        });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ExceptionError::new(file, "$", format!("not UTF-8 at byte offset {}", e.valid_up_to())))?;
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .map_err(|e| ExceptionError::new(file, "$", format!("neither JSON nor valid YAML: {e}")))?;
    match docs.len() {
        1 => yaml_to_json(&docs[0], file, "$"),
        0 => Err(ExceptionError::new(file, "$", "the document is empty")),
        n => Err(ExceptionError::new(file, "$", format!("expected one YAML document, found {n}"))),
    }
}

fn yaml_to_json(y: &yaml_rust2::Yaml, file: &str, path: &str) -> Result<Value, ExceptionError> {
    use yaml_rust2::Yaml;
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        // Dates, versions and ids stay text: a YAML float is kept as written.
        Yaml::Real(s) | Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(item, file, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => return Err(ExceptionError::new(file, path, "a mapping key is not a scalar")),
                };
                let child = format!("{path}.{key}");
                let value = yaml_to_json(v, file, &child)?;
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Yaml::Alias(_) => return Err(ExceptionError::new(file, path, "YAML aliases are not supported")),
        Yaml::BadValue => return Err(ExceptionError::new(file, path, "a value YAML could not read")),
    })
}

/// A JSON object being read, with its path, for errors that name where they are.
pub(super) struct Obj<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
    pub(super) file: &'a str,
}

impl<'a> Obj<'a> {
    pub(super) fn of(value: &'a Value, path: String, file: &'a str) -> Result<Obj<'a>, ExceptionError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path, file }),
            other => Err(ExceptionError::new(file, &path, format!("expected an object, got {}", kind(other)))),
        }
    }

    pub(super) fn err(&self, field: &str, message: impl Into<String>) -> ExceptionError {
        ExceptionError::new(self.file, &self.child(field), message)
    }

    pub(super) fn child(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    /// Refuses fields not in `known` (a misspelt `expiry` must not pass as no field at all).
    pub(super) fn only(&self, known: &[&str]) -> Result<(), ExceptionError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.err(k, format!("unknown field (expected one of: {})", known.join(", ")))),
            None => Ok(()),
        }
    }

    /// An optional string field: absent and null are None; a blank string is an error.
    pub(super) fn opt_str(&self, field: &str) -> Result<Option<&'a str>, ExceptionError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(self.err(field, "expected a non-empty string")),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(other) => Err(self.err(field, format!("expected a string, got {}", kind(other)))),
        }
    }

    pub(super) fn str(&self, field: &str) -> Result<&'a str, ExceptionError> {
        self.opt_str(field)?.ok_or_else(|| self.err(field, "required field missing"))
    }

    pub(super) fn opt_array(&self, field: &str) -> Result<Option<&'a Vec<Value>>, ExceptionError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.err(field, format!("expected an array, got {}", kind(other)))),
        }
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
