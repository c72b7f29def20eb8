//! The shape of `PATCH /v2/images/{id}` (SPEC 6): Glance's JSON-patch media types, a list
//! of `add`/`replace`/`remove` operations on one-level paths (`~1` and `~0` decoded), and
//! the `If-Match` version (extension). Which attributes an operation may touch, and with
//! which values, is the domain's to decide; this file only turns the body into
//! [`PatchOperation`]s or a 400.
//!
//! `application/openstack-images-v2.1-json-patch` uses RFC 6902 operations
//! (`{"op": "add", "path": "/k", "value": "v"}`); the older `...-v2.0-json-patch` uses the
//! draft-04 form Glance still reads for it (`{"add": "/k", "value": "v"}`).

use axum::http::{HeaderMap, header};
use domain::command::PatchOperation;
use serde_json::{Map, Value};

use super::common::kind_of;
use crate::error::ApiError;

/// The current JSON-patch media type.
pub const MEDIA_TYPE_V21: &str = "application/openstack-images-v2.1-json-patch";
/// The draft-04 JSON-patch media type of API v2.0.
pub const MEDIA_TYPE_V20: &str = "application/openstack-images-v2.0-json-patch";

const OPERATIONS: &[&str] = &["add", "replace", "remove"];

/// Which JSON-patch dialect a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// RFC 6902 (`op`, `path`).
    Rfc6902,
    /// Draft 04 (the operation's name is the key of the path).
    Draft04,
}

/// The dialect named by the request's `Content-Type`; any other type is 415.
pub fn dialect(headers: &HeaderMap) -> Result<Dialect, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        MEDIA_TYPE_V21 => Ok(Dialect::Rfc6902),
        MEDIA_TYPE_V20 => Ok(Dialect::Draft04),
        other => Err(ApiError::unsupported_media_type(format!(
            "Unsupported Content-Type '{other}': send {MEDIA_TYPE_V21} (or {MEDIA_TYPE_V20})."
        ))),
    }
}

/// The operations of a patch body, in order; anything but a list of valid operations is 400.
pub fn operations(body: &[u8], dialect: Dialect) -> Result<Vec<PatchOperation>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "The request body is empty: send a JSON list of patch operations.",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "The request body must be a JSON list of patch operations, not {}.",
            kind_of(&value)
        )));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(change) => operation(change, dialect),
            other => Err(ApiError::bad_request(format!(
                "Each patch operation must be a JSON object, not {}.",
                kind_of(&other)
            ))),
        })
        .collect()
}

fn operation(mut change: Map<String, Value>, dialect: Dialect) -> Result<PatchOperation, ApiError> {
    let (op, path) = match dialect {
        Dialect::Rfc6902 => {
            let op = match change.get("op") {
                Some(Value::String(op)) if OPERATIONS.contains(&op.as_str()) => op.clone(),
                Some(Value::String(op)) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid operation '{op}': it must be one of {}.",
                        OPERATIONS.join(", ")
                    )));
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Each patch operation needs an 'op' string, one of {}.",
                        OPERATIONS.join(", ")
                    )));
                }
            };
            (op, change.get("path"))
        }
        Dialect::Draft04 => {
            let mut named = OPERATIONS.iter().filter(|op| change.contains_key(**op));
            let (Some(op), None) = (named.next(), named.next()) else {
                return Err(ApiError::bad_request(
                    "Operation objects must contain exactly one member named \"add\", \
                     \"remove\", or \"replace\".",
                ));
            };
            ((*op).to_owned(), change.get(*op))
        }
    };
    let path = match path {
        Some(Value::String(path)) => path.clone(),
        _ => {
            return Err(ApiError::bad_request(format!(
                "The '{op}' operation needs a 'path' string such as \"/name\"."
            )));
        }
    };
    let attribute = attribute(&path)?;
    let mut value = || {
        change.remove("value").ok_or_else(|| {
            ApiError::bad_request(format!(
                "Operation \"{op}\" requires a member named \"value\"."
            ))
        })
    };
    match op.as_str() {
        "add" => Ok(PatchOperation::Add {
            attribute,
            value: value()?,
        }),
        "replace" => Ok(PatchOperation::Replace {
            attribute,
            value: value()?,
        }),
        _ => Ok(PatchOperation::Remove { attribute }),
    }
}

/// The top-level attribute a JSON pointer names. Only `/locations/<index>` may be two
/// levels deep, as in Glance; the domain then decides about locations as a whole.
fn attribute(pointer: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("Invalid path '{pointer}': {why}."));
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad("it must start with \"/\""));
    };
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err(bad("\"~\" must be followed by 0 or 1"));
        }
    }
    // Split first, then decode `~1` before `~0` (RFC 6901), so "~01" stays "~1".
    let parts: Vec<String> = rest
        .split('/')
        .map(|part| part.replace("~1", "/").replace("~0", "~").trim().to_owned())
        .collect();
    if parts.iter().any(String::is_empty) {
        return Err(bad("it must name an attribute, without empty segments"));
    }
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        [root, _] if root == "locations" => Ok(root.clone()),
        _ => Err(bad("nested paths are not allowed")),
    }
}

/// The version `If-Match` asks for: `"7"` or `7`; `*` or no header means any version.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::bad_request(
            "If-Match must be one ETag of the image, such as \"3\" (quotes included), or *.",
        )
    };
    let text = raw.to_str().map_err(|_| malformed())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    bare.parse().map(Some).map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_decode_to_one_attribute() {
        assert_eq!(attribute("/name").ok(), Some("name".to_owned()));
        assert_eq!(attribute("/a~1b~0c").ok(), Some("a/b~c".to_owned()));
        assert_eq!(attribute("/~01").ok(), Some("~1".to_owned()));
        assert_eq!(attribute("/locations/0").ok(), Some("locations".to_owned()));
        for bad in ["name", "/a/b", "/", "//a", "/a/", "/a~2", "/a~"] {
            assert!(attribute(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn if_match_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(expected_version(&headers).ok(), Some(None));
        for (raw, expected) in [
            ("\"3\"", Some(Some(3))),
            ("4", Some(Some(4))),
            ("*", Some(None)),
        ] {
            headers.insert(header::IF_MATCH, raw.parse().expect("header"));
            assert_eq!(expected_version(&headers).ok(), expected, "{raw}");
        }
        for raw in ["\"x\"", "W/\"3\"", "\"-1\"", "\"\"", "\"1\", \"2\""] {
            headers.insert(header::IF_MATCH, raw.parse().expect("header"));
            assert!(expected_version(&headers).is_err(), "{raw}");
        }
    }
}
