//! The table of hostile requests: each names what it tries and, where Glance's answer
//! is certain, the status it must get.

use axum::http::Method;
use serde_json::json;

use super::Case;

const JSON: &str = "application/json";
const PATCH: &str = "application/openstack-images-v2.1-json-patch";

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: Option<u16>,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type,
        body,
        status,
    }
}

fn create(name: &'static str, body: serde_json::Value, status: Option<u16>) -> Case {
    case(
        name,
        Method::POST,
        "/v2/images",
        Some(JSON),
        body.to_string().into_bytes(),
        status,
    )
}

fn patch(name: &'static str, operations: serde_json::Value, status: Option<u16>) -> Case {
    let body = operations.to_string().into_bytes();
    case(
        name,
        Method::PATCH,
        "/v2/images/{id}",
        Some(PATCH),
        body,
        status,
    )
}

fn get(name: &'static str, path: &str, status: Option<u16>) -> Case {
    case(name, Method::GET, path, None, Vec::new(), status)
}

/// JSON nested `depth` arrays deep.
fn deep_json(depth: usize) -> Vec<u8> {
    let mut body = "[".repeat(depth);
    body.push_str(&"]".repeat(depth));
    body.into_bytes()
}

/// Every case, in the order they are sent.
pub fn all() -> Vec<Case> {
    let long = "x".repeat(300);
    vec![
        // Ids that are not UUIDs, or try to leave the path.
        get("a word as an image id", "/v2/images/not-a-uuid", Some(404)),
        get(
            "a truncated uuid",
            "/v2/images/0e7f9c3c-1e4b-4c1d-9d7c",
            Some(404),
        ),
        get("a uuid with a tail", "/v2/images/{id}x", Some(404)),
        get(
            "an encoded traversal as the id",
            "/v2/images/..%2F..%2Fetc%2Fpasswd",
            Some(404),
        ),
        get(
            "a traversal to the data",
            "/v2/images/..%2F{id}/file",
            Some(404),
        ),
        get("a NUL byte as the id", "/v2/images/%00", Some(404)),
        get("invalid UTF-8 as the id", "/v2/images/%FF%FE", Some(404)),
        get(
            "a traversal as a member id",
            "/v2/images/{id}/members/..%2F..%2Fadmin",
            Some(404),
        ),
        get("a traversal as a task id", "/v2/tasks/..%2F..", None),
        get(
            "an unknown schema name",
            "/v2/schemas/..%2F..%2Fetc",
            Some(404),
        ),
        // Bodies that are not what they claim.
        create("invalid UTF-8 in JSON", json!(null), Some(400))
            .with_body(b"{\"name\": \"\xff\xfe\"}".to_vec()),
        create("JSON nested 100,000 deep", json!(null), Some(400)).with_body(deep_json(100_000)),
        create("a truncated JSON body", json!(null), Some(400)).with_body(b"{\"name\": ".to_vec()),
        create(
            "a JSON array instead of an object",
            json!([1, 2, 3]),
            Some(400),
        ),
        create("a body of 2 MiB", json!(null), Some(413)).with_body(oversized_body()),
        case(
            "a member body of 2 MiB",
            Method::POST,
            "/v2/images/{id}/members",
            Some(JSON),
            oversized_body(),
            Some(413),
        ),
        case(
            "an import body of 2 MiB",
            Method::POST,
            "/v2/images/{id}/import",
            Some(JSON),
            oversized_body(),
            Some(413),
        ),
        case(
            "a location body of 2 MiB",
            Method::POST,
            "/v2/images/{id}/locations",
            Some(JSON),
            oversized_body(),
            Some(413),
        ),
        get(
            "a limit that is not a number",
            "/v2/images?limit=ten",
            Some(400),
        ),
        case(
            "a NUL in a web-download URI",
            Method::POST,
            "/v2/images/{id}/import",
            Some(JSON),
            json!({"method": {"name": "web-download", "uri": "http://93.184.215.14/a\u{0}b"}})
                .to_string()
                .into_bytes(),
            Some(400),
        ),
        // Numbers out of range.
        create("a negative min_disk", json!({"min_disk": -1}), Some(400)),
        create(
            "a min_ram past i64",
            json!({"min_ram": 9_223_372_036_854_775_808u64}),
            Some(400),
        ),
        create("a min_disk of 1e400", json!(null), Some(400))
            .with_body(b"{\"min_disk\": 1e400}".to_vec()),
        create("a fractional min_disk", json!({"min_disk": 1.5}), Some(400)),
        create(
            "a min_disk as a string",
            json!({"min_disk": "1"}),
            Some(400),
        ),
        create("a name of 300 characters", json!({"name": long}), Some(400)),
        create(
            "a tag of 300 characters",
            json!({"tags": [long]}),
            Some(400),
        ),
        create(
            "an id that is not a uuid",
            json!({"id": "../../etc"}),
            Some(400),
        ),
        create(
            "an unknown visibility",
            json!({"visibility": "everyone"}),
            Some(400),
        ),
        create(
            "a property that is not a string",
            json!({"hw_cpu": {"nested": true}}),
            Some(400),
        ),
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

impl Case {
    /// The same case with a raw body (for bytes that are not valid JSON).
    fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// A JSON object of 2 MiB, past the gateway's 1 MiB limit on documents.
fn oversized_body() -> Vec<u8> {
    json!({"name": "big", "padding": "p".repeat(2 << 20)})
        .to_string()
        .into_bytes()
}

/// One patch adding `count` properties: past the property quota (Glance answers 413).
fn many_properties(count: usize) -> serde_json::Value {
    (0..count)
        .map(|n| json!({"op": "add", "path": format!("/p{n}"), "value": "v"}))
        .collect()
}
