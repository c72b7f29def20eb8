//! The command schema and serde agree, case by case, on what a command envelope may
//! hold: both accept it or both refuse it.

use super::*;

/// A valid `deactivate_image` envelope as JSON.
fn deactivate_json() -> Value {
    json!({
        "schema": "imagefleet.command.v1",
        "command_id": "01943c0e-8f00-7000-8000-000000000001",
        "correlation_id": null,
        "issued_at": "2025-01-02T03:04:05Z",
        "actor": {"project_id": "p1", "user_id": "u1", "roles": ["member"]},
        "type": "deactivate_image",
        "payload": {"image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10"}
    })
}

/// `deactivate_json` with `change` applied.
fn deactivate_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut value = deactivate_json();
    change(value.as_object_mut().expect("an object"));
    value
}

/// The schema and serde agree on each case: both accept it or both refuse it.
#[test]
fn the_command_schema_accepts_what_serde_accepts() {
    let validator = validator(COMMAND_ENVELOPE_V1);
    let cases: Vec<(&str, Value, bool)> = vec![
        ("a valid envelope", deactivate_json(), true),
        (
            "no correlation id",
            deactivate_with(|m| {
                m.remove("correlation_id");
            }),
            true,
        ),
        (
            "an extra envelope field (serde ignores it)",
            deactivate_with(|m| {
                m.insert("priority".into(), json!(5));
            }),
            true,
        ),
        (
            "an expected version",
            deactivate_with(|m| {
                m["payload"]["expected_version"] = json!(7);
            }),
            true,
        ),
        (
            "an unknown type",
            deactivate_with(|m| {
                m["type"] = json!("frobnicate_image");
            }),
            false,
        ),
        (
            "no type",
            deactivate_with(|m| {
                m.remove("type");
            }),
            false,
        ),
        (
            "no payload",
            deactivate_with(|m| {
                m.remove("payload");
            }),
            false,
        ),
        (
            "a payload without its image_id",
            deactivate_with(|m| {
                m["payload"] = json!({});
            }),
            false,
        ),
        (
            "an unknown payload field",
            deactivate_with(|m| {
                m["payload"]["force"] = json!(true);
            }),
            false,
        ),
        (
            "the payload of another type",
            deactivate_with(|m| {
                m["type"] = json!("start_task");
            }),
            false,
        ),
        (
            "a null payload",
            deactivate_with(|m| {
                m["payload"] = Value::Null;
            }),
            false,
        ),
        (
            "an image id that is no UUID",
            deactivate_with(|m| {
                m["payload"]["image_id"] = json!("not-a-uuid");
            }),
            false,
        ),
        (
            "no command id",
            deactivate_with(|m| {
                m.remove("command_id");
            }),
            false,
        ),
        (
            "no actor",
            deactivate_with(|m| {
                m.remove("actor");
            }),
            false,
        ),
        (
            "an issue time that is no date-time",
            deactivate_with(|m| {
                m["issued_at"] = json!("yesterday");
            }),
            false,
        ),
        (
            "a version that is no integer",
            deactivate_with(|m| {
                m["payload"]["expected_version"] = json!("7");
            }),
            false,
        ),
        (
            "an unknown import method",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "glance-indirect"}));
            }),
            false,
        ),
        (
            "web-download without its uri",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "web-download"}));
            }),
            false,
        ),
        (
            "glance-direct with an extra key (serde ignores it)",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "glance-direct", "x": 1}));
            }),
            true,
        ),
        (
            "a remove operation with a value",
            deactivate_with(|m| {
                m["type"] = json!("update_image");
                m["payload"] = json!({
                    "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
                    "operations": [{"op": "remove", "attribute": "a", "value": 1}]
                });
            }),
            false,
        ),
        (
            "an unknown disk format",
            deactivate_with(|m| {
                m["type"] = json!("create_image");
                m["payload"] = json!({
                    "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
                    "disk_format": "qcow3"
                });
            }),
            false,
        ),
    ];

    let mut disagreements = Vec::new();
    for (what, value, valid) in cases {
        let schema_says = validator.is_valid(&value);
        let serde_says = serde_json::from_value::<CommandEnvelope>(value.clone());
        if schema_says != valid || serde_says.is_ok() != valid {
            disagreements.push(format!(
                "{what}: expected {}, schema {} ({}), serde {:?}",
                if valid { "valid" } else { "invalid" },
                if schema_says { "accepts" } else { "refuses" },
                errors(&validator, &value),
                serde_says.map(|_| ()),
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn begin_import_payload(method: Value) -> Value {
    json!({
        "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
        "task_id": "0b5a4d1e-2c3f-4e5a-8b6c-7d8e9f0a1b2c",
        "method": method,
        "lease_expires_at": "2025-01-02T04:00:00Z"
    })
}
