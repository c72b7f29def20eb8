//! Store ids in decisions: whether a deployment names its stores (Glance's
//! `enabled_backends`), which ids it knows, and the comma-separated store lists Glance
//! keeps in the `os_glance_importing_to_stores` and `os_glance_failed_import`
//! properties.

use crate::context::DomainConfig;
use crate::rejection::Rejection;

/// Refuses a store id the deployment does not have (400, as Glance answers an unknown
/// store), and any store id in single-store mode.
pub fn known(store: &str, config: &DomainConfig) -> Result<(), Rejection> {
    if config.stores.is_empty() {
        return Err(Rejection::bad_request(format!(
            "Store '{store}' is named, but this deployment has a single store: name none."
        )));
    }
    if config.stores.iter().any(|s| s == store) {
        return Ok(());
    }
    Err(Rejection::bad_request(format!(
        "Store '{store}' is not one of this deployment's stores ({}).",
        config.stores.join(", ")
    )))
}

/// The store ids of a comma-separated property value (none for an absent or empty one).
pub fn split(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The property value of a list of store ids.
pub fn join(stores: &[String]) -> String {
    stores.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(stores: &[&str]) -> DomainConfig {
        DomainConfig {
            stores: stores.iter().map(|s| (*s).to_owned()).collect(),
            ..DomainConfig::default()
        }
    }

    #[test]
    fn only_configured_stores_are_known() {
        let two = config(&["fast", "cold"]);
        assert!(known("cold", &two).is_ok());
        let unknown = known("warm", &two).expect_err("not configured");
        assert!(
            unknown.message.contains("fast, cold"),
            "{}",
            unknown.message
        );
        assert!(known("fast", &config(&[])).is_err(), "single-store mode");
    }

    #[test]
    fn lists_round_trip_and_skip_empty_items() {
        assert_eq!(split(Some(&"a,,b ".to_owned())), vec!["a", "b"]);
        assert!(split(Some(&String::new())).is_empty());
        assert!(split(None).is_empty());
        assert_eq!(join(&["a".into(), "b".into()]), "a,b");
    }
}
