//! The second half of the table: JSON-patch abuse, query strings, and tags, members
//! and locations.

use super::*;

/// The cases of this half, `long` being a 300-character word.
pub(super) fn cases(long: &str) -> Vec<Case> {
    vec![
        // JSON-patch abuse.
        patch(
            "an operation Glance does not have",
            json!([{"op": "move", "from": "/name", "path": "/x"}]),
            Some(400),
        ),
        patch(
            "a patch that is not a list",
            json!({"op": "replace", "path": "/name", "value": "x"}),
            Some(400),
        ),
        patch(
            "an empty path",
            json!([{"op": "replace", "path": "", "value": "x"}]),
            Some(400),
        ),
        patch(
            "a path with a bad escape",
            json!([{"op": "add", "path": "/~2", "value": "x"}]),
            Some(400),
        ),
        patch(
            "a nested path",
            json!([{"op": "add", "path": "/a/b/c", "value": "x"}]),
            Some(400),
        ),
        patch(
            "a replace of the id",
            json!([{"op": "replace", "path": "/id", "value": "x"}]),
            Some(403),
        ),
        patch(
            "a replace of the status",
            json!([{"op": "replace", "path": "/status", "value": "active"}]),
            Some(403),
        ),
        patch(
            "a property name of 300 characters",
            json!([{"op": "add", "path": format!("/{long}"), "value": "x"}]),
            Some(400),
        ),
        patch(
            "an operation without a value",
            json!([{"op": "add", "path": "/x"}]),
            Some(400),
        ),
        patch(
            "10,000 properties at once",
            many_properties(10_000),
            Some(413),
        ),
        case(
            "a patch as plain JSON",
            Method::PATCH,
            "/v2/images/{id}",
            Some(JSON),
            b"[]".to_vec(),
            Some(415),
        ),
        // Query strings.
        get("a negative limit", "/v2/images?limit=-1", Some(400)),
        get(
            "a marker that is not a uuid",
            "/v2/images?marker=../../etc",
            Some(400),
        ),
        get(
            "a sort key that is SQL",
            "/v2/images?sort_key=name;DROP%20TABLE%20images",
            Some(400),
        ),
        get(
            "a sort direction that is SQL",
            "/v2/images?sort_dir=asc%20--",
            Some(400),
        ),
        get(
            "a date filter that is not a date",
            "/v2/images?created_at=gte:yesterday",
            Some(400),
        ),
        get(
            "a size filter that is not a number",
            "/v2/images?size_min=-5",
            Some(400),
        ),
        // Tags, members and locations.
        case(
            "a tag of 300 characters in the path",
            Method::PUT,
            &format!("/v2/images/{{id}}/tags/{long}"),
            None,
            Vec::new(),
            Some(400),
        ),
        case(
            "a member id of 300 characters",
            Method::POST,
            "/v2/images/{id}/members",
            Some(JSON),
            json!({"member": long}).to_string().into_bytes(),
            Some(400),
        ),
        case(
            "a file:// location",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            json!({"url": "file:///etc/passwd", "validation_data": {}})
                .to_string()
                .into_bytes(),
            None,
        ),
        case(
            "a metadata-service location",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            json!({"url": "http://169.254.169.254/latest/meta-data"})
                .to_string()
                .into_bytes(),
            None,
        ),
        case(
            "a location traversing out of a store directory",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            json!({"url": "file:///var/lib/imagefleet/images/../../../../etc/shadow"})
                .to_string()
                .into_bytes(),
            None,
        ),
        case(
            "a relative traversal as a location",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            json!({"url": "../../../etc/passwd"})
                .to_string()
                .into_bytes(),
            Some(400),
        ),
        case(
            "an encoded traversal on a loopback location",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            json!({"url": "http://127.0.0.1/%2e%2e/%2e%2e/etc/passwd"})
                .to_string()
                .into_bytes(),
            Some(400),
        ),
        patch(
            "a traversal location patched in",
            json!([{"op": "add", "path": "/locations/-",
                    "value": {"url": "file:///../../etc/shadow", "metadata": {}}}]),
            None,
        ),
        patch(
            "a traversal as a location index",
            json!([{"op": "remove", "path": "/locations/../0"}]),
            None,
        ),
        case(
            "an unknown action",
            Method::POST,
            "/v2/images/{id}/actions/..%2Fdelete",
            None,
            Vec::new(),
            Some(404),
        ),
        case(
            "an import of a traversal URI",
            Method::POST,
            "/v2/images/{id}/import",
            Some(JSON),
            json!({"method": {"name": "web-download", "uri": "file:///etc/shadow"}})
                .to_string()
                .into_bytes(),
            None,
        ),
    ]
}
