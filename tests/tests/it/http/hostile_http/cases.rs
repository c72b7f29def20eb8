//! The table of hostile requests: each names what it tries and, where Glance's answer
//! is certain, the status it must get.

use axum::http::Method;
use serde_json::json;

use super::Case;

mod patches_queries_and_subresources;

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
    let mut cases = vec![
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
    ];
    cases.extend(patches_queries_and_subresources::cases(&long));
    cases
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
