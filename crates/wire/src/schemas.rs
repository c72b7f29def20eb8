//! JSON Schemas (draft 2020-12) of the messages on the bus, generated from the Rust types
//! with `schemars`. The checked-in copies under `schemas/` at the repository root are
//! compared with these by the `schemas` integration test; regenerate them with
//! `IMAGEFLEET_UPDATE_SCHEMAS=1 cargo nextest run -p imagefleet-tests schemas`.

use crate::{CommandEnvelope, CommandReply, EventEnvelope};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// Where the schemas' `$id`s live; the host is reserved and never resolves.
pub const SCHEMA_ID_BASE: &str = "https://imagefleet.invalid/schemas/";

/// The command envelope's schema file.
pub const COMMAND_ENVELOPE_V1: &str = "command-envelope.v1.json";
/// The event envelope's schema file.
pub const EVENT_ENVELOPE_V1: &str = "event-envelope.v1.json";
/// The command reply's schema file.
pub const COMMAND_REPLY_V1: &str = "command-reply.v1.json";

/// The schema of `T` with its `$id` set to [`SCHEMA_ID_BASE`] + `file`.
fn schema<T: JsonSchema>(file: &str) -> serde_json::Value {
    let mut schema: Schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("$id".to_owned(), format!("{SCHEMA_ID_BASE}{file}").into());
    schema.to_value()
}

/// The checked-in text of a schema: pretty-printed with keys sorted at every level (so the
/// output does not depend on serde_json's `preserve_order` feature) and a trailing newline.
pub fn render(schema: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(schema))
        .expect("a JSON value with string keys always serialises");
    text.push('\n');
    text
}

/// Every message schema as (file name under `schemas/`, schema).
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            COMMAND_ENVELOPE_V1,
            schema::<CommandEnvelope>(COMMAND_ENVELOPE_V1),
        ),
        (
            EVENT_ENVELOPE_V1,
            schema::<EventEnvelope>(EVENT_ENVELOPE_V1),
        ),
        (COMMAND_REPLY_V1, schema::<CommandReply>(COMMAND_REPLY_V1)),
    ]
}
