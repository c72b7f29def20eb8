//! The message contract's JSON Schemas: the copies checked in under `schemas/` must be
//! what `wire::schemas` generates from the types, and what serde writes must
//! validate against them while what serde refuses does not.
//!
//! Regenerate the checked-in copies with
//! `IMAGEFLEET_UPDATE_SCHEMAS=1 cargo nextest run -p imagefleet-tests schemas`.
//! These tests need neither Postgres nor RabbitMQ. This file holds the snapshot tests
//! and the helpers; the commands' examples and cases and the replies and events have
//! modules of their own.

mod command_cases;
mod command_examples;
mod replies_and_events;

use chrono::{DateTime, TimeZone, Utc};
use domain::command::{
    AddLocation, BeginImport, CompleteImport, CreateImage, CreateTask, DeleteFromStore, FailImport,
    FailTask, ImageRef, ImportMethod, ImportStoreDone, Leased, MemberRef, PatchOperation,
    RemoveLocation, SucceedTask, TaskRef, UpdateImage, UpdateMember,
};
use domain::image::{DataDigest, Location, Member};
use domain::status::{ContainerFormat, DiskFormat, MemberStatus, TaskStatus, TaskType, Visibility};
use domain::{Actor, Command, CommandId, Image, ImageId, ImageStatus, RejectionKind, Task, TaskId};
use imagefleet_tests::fixtures;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use wire::schemas;
use wire::schemas::{COMMAND_ENVELOPE_V1, COMMAND_REPLY_V1, EVENT_ENVELOPE_V1};
use wire::{
    CommandEnvelope, CommandReply, CommandResult, EVENT_SCHEMA_V1, EventEnvelope, RecordedEvent,
};

/// Set (to anything but empty or `0`) to rewrite the checked-in schemas instead of
/// comparing them.
const UPDATE_ENV: &str = "IMAGEFLEET_UPDATE_SCHEMAS";

/// The command that regenerates the checked-in schemas.
const REGENERATE: &str =
    "IMAGEFLEET_UPDATE_SCHEMAS=1 cargo nextest run -p imagefleet-tests schemas";

/// `schemas/` at the repository root.
fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
}

fn updating() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn checked_in_schemas_are_current() {
    let dir = schema_dir();
    let update = updating();
    let generated = schemas::all();
    let mut stale = Vec::new();

    for (file, schema) in &generated {
        let path = dir.join(file);
        let expected = schemas::render(schema);
        let actual = std::fs::read_to_string(&path).ok();
        if actual.as_deref() == Some(expected.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(&dir).expect("create schemas/");
            std::fs::write(&path, &expected)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            eprintln!("rewrote schemas/{file}");
        } else if actual.is_none() {
            stale.push(format!("schemas/{file} is missing"));
        } else {
            stale.push(format!(
                "schemas/{file} is stale: it differs from what the types generate"
            ));
        }
    }

    // A schema file no type generates any more is stale too.
    let known: BTreeSet<&str> = generated.iter().map(|(file, _)| *file).collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries {
            let path = entry.expect("read schemas/").path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if !file.ends_with(".json") || known.contains(file) {
                continue;
            }
            if update {
                std::fs::remove_file(&path)
                    .unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
                eprintln!("removed schemas/{file}");
            } else {
                stale.push(format!(
                    "schemas/{file} is stale: no message type generates it any more"
                ));
            }
        }
    }

    assert!(
        stale.is_empty(),
        "the checked-in JSON Schemas do not match the message types:\n  {}\n\
         regenerate them (and review the diff) with:\n  {REGENERATE}",
        stale.join("\n  ")
    );
}

#[test]
fn generated_schemas_are_valid_draft_2020_12() {
    for (file, schema) in schemas::all() {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{file}"
        );
        assert_eq!(
            schema["$id"],
            format!("{}{file}", schemas::SCHEMA_ID_BASE),
            "{file}"
        );
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{file} is not a valid JSON Schema: {e}");
        }
    }
}

/// The generated schema of `file`.
fn schema(file: &str) -> Value {
    schemas::all()
        .into_iter()
        .find_map(|(f, s)| (f == file).then_some(s))
        .unwrap_or_else(|| panic!("no schema {file}"))
}

/// A validator of `file`'s schema that also checks formats (`uuid`, `date-time`).
fn validator(file: &str) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema(file))
        .unwrap_or_else(|e| panic!("{file} does not compile: {e}"))
}

/// The schema's errors for `instance`, one per line (empty when it is valid).
fn errors(validator: &jsonschema::Validator, instance: &Value) -> String {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, hour, 0, 0)
        .single()
        .expect("a valid time")
}

fn digest() -> DataDigest {
    DataDigest {
        size: 1024,
        checksum: "0".repeat(32),
        os_hash_algo: "sha512".to_owned(),
        os_hash_value: "f".repeat(128),
        virtual_size: None,
    }
}

fn location() -> Location {
    Location {
        url: "file:///var/lib/imagefleet/images/1".to_owned(),
        metadata: json!({"store": "local"}),
    }
}
