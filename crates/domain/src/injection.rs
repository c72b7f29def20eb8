//! The rules of the `inject_image_metadata` import plugin (Glance's
//! `inject_metadata_properties`): which properties an operator may have imports add, in
//! what notation, and whose imports get them.
//!
//! An injected property is an extra property a client could have written itself: never
//! a core or read-only attribute, never the service's `os_glance_*` (Glance drops those
//! with a warning at import time; here they are refused when the setting is read, so the
//! operator learns of it at startup rather than from a log line per import).

use std::collections::BTreeMap;

use crate::rejection::Rejection;
use crate::validate;

/// The key of an import task's input that holds the roles of whoever asked for the
/// import (`begin_import` records them; the job's injection step reads them).
pub const REQUESTER_ROLES: &str = "requester_roles";

/// Glance's default `ignore_user_roles`: an admin's imports get no injected properties.
pub const DEFAULT_IGNORED_ROLES: &[&str] = &["admin"];

/// One `key:value` entry of the setting, checked: the key as [`injectable`] wants it,
/// split at the first `:` (so the value may hold colons, as in Glance's `DictOpt`).
pub fn parse_entry(entry: &str) -> Result<(String, String), String> {
    let Some((key, value)) = entry.split_once(':') else {
        return Err(format!(
            "'{entry}' is not key:value (a property to inject is written name:value)"
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    injectable(key, value).map_err(|rejection| format!("'{entry}': {}", rejection.message))?;
    Ok((key.to_owned(), value.to_owned()))
}

/// Whether `key` with `value` may be injected: a client-writable extra property name
/// that is no core attribute, and a value of at most 255 characters.
pub fn injectable(key: &str, value: &str) -> Result<(), Rejection> {
    if validate::CORE.contains(&key) {
        return Err(Rejection::forbidden(format!(
            "Attribute '{key}' is a core attribute, not an extra property."
        )));
    }
    validate::property_key(key)?;
    validate::storable("A property value", value)?;
    let len = value.chars().count();
    if len > validate::MAX_TEXT {
        return Err(Rejection::bad_request(format!(
            "Property values must be at most {} characters long; '{key}' has {len}.",
            validate::MAX_TEXT
        )));
    }
    Ok(())
}

/// The properties an import asked for by someone with `roles` gets: none when one of
/// the roles is ignored (compared as the identity layer compares roles, ignoring ASCII
/// case), else all of them.
pub fn injected_for(
    roles: &[String],
    ignored_roles: &[String],
    properties: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let ignored = roles
        .iter()
        .any(|role| ignored_roles.iter().any(|i| i.eq_ignore_ascii_case(role)));
    if ignored {
        BTreeMap::new()
    } else {
        properties.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> BTreeMap<String, String> {
        BTreeMap::from([("hw_vendor".to_owned(), "acme".to_owned())])
    }

    #[test]
    fn an_entry_splits_at_its_first_colon() {
        assert_eq!(
            parse_entry("source:http://mirror"),
            Ok(("source".to_owned(), "http://mirror".to_owned()))
        );
    }

    #[test]
    fn entries_without_a_colon_or_naming_attributes_of_the_service_are_refused() {
        for entry in [
            "novalue",
            "os_glance_import_task:x",
            "name:x",
            "status:active",
            ":x",
        ] {
            assert!(parse_entry(entry).is_err(), "{entry} was accepted");
        }
    }

    #[test]
    fn an_ignored_role_gets_nothing_whatever_its_case() {
        let ignored = vec!["admin".to_owned()];
        let admin = vec!["member".to_owned(), "Admin".to_owned()];
        assert!(injected_for(&admin, &ignored, &props()).is_empty());
        let member = vec!["member".to_owned()];
        assert_eq!(injected_for(&member, &ignored, &props()), props());
    }
}
