//! `docker-compose.multi-store.yml`, the two-store layer over `docker-compose.yml`: the
//! gateway and the workers must name the same stores, mount every store directory from a
//! named volume, keep the base file's data directory as the default store (so images
//! stored before keep being read), and set only variables the binaries read.

use clap::Parser;
use yaml_rust2::{Yaml, YamlLoader};

use crate::compose::{env_var, service};
use crate::repo_files::{known_variables, read, variables_in};

const LAYER: &str = "docker-compose.multi-store.yml";

fn load(file: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(file)).expect("valid YAML");
    assert_eq!(docs.len(), 1, "{file} holds one document");
    docs.remove(0)
}

#[derive(Parser)]
struct Stores {
    #[command(flatten)]
    store: store::StoreArgs,
}

/// The mount target of a service's named volume `source`, from either file.
fn mounted(base: &Yaml, layer: &Yaml, name: &str, directory: &str) -> Option<String> {
    [base, layer]
        .into_iter()
        .flat_map(|doc| doc["services"][name]["volumes"].as_vec().cloned())
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .filter_map(|m| m.split_once(':').map(|(s, t)| (s.to_owned(), t.to_owned())))
        .find(|(_, target)| target.split(':').next() == Some(directory))
        .map(|(source, _)| source)
}

#[test]
fn the_gateway_and_the_workers_name_the_same_stores_on_shared_volumes() {
    let base = load("docker-compose.yml");
    let layer = load(LAYER);
    let names = [
        "IMAGEFLEET_STORES",
        "IMAGEFLEET_DEFAULT_STORE",
        "IMAGEFLEET_STORE_DESCRIPTIONS",
    ];
    let settings = |name: &str| -> Vec<Option<String>> {
        names
            .iter()
            .map(|v| env_var(service(&layer, name), v))
            .collect()
    };
    assert_eq!(
        settings("gateway"),
        settings("worker"),
        "both name the same stores"
    );
    let stores = env_var(service(&layer, "gateway"), "IMAGEFLEET_STORES").expect("stores set");
    let default = env_var(service(&layer, "gateway"), "IMAGEFLEET_DEFAULT_STORE");
    let mut argv = vec!["probe", "--stores", stores.as_str()];
    if let Some(default) = &default {
        argv.extend(["--default-store", default.as_str()]);
    }
    let parsed =
        imagefleet_tests::flags::parse_without_env::<Stores>(argv).expect("the store flags parse");
    assert!(parsed.store.stores.is_some());

    let volumes: Vec<Yaml> = [&base, &layer]
        .into_iter()
        .filter_map(|doc| doc["volumes"].as_hash())
        .flat_map(|volumes| volumes.keys().cloned().collect::<Vec<_>>())
        .collect();
    let default_id = default.unwrap_or_else(|| stores.split('=').next().expect("an id").to_owned());
    for entry in stores.split(',') {
        let (id, url) = entry.split_once('=').expect("id=url");
        let Some(directory) = url.strip_prefix("file://") else {
            continue;
        };
        let sources: Vec<Option<String>> = ["gateway", "worker"]
            .into_iter()
            .map(|name| mounted(&base, &layer, name, directory))
            .collect();
        let source = sources[0]
            .clone()
            .unwrap_or_else(|| panic!("{directory} is not mounted"));
        assert_eq!(
            sources[1].as_ref(),
            Some(&source),
            "{id}: one volume for both"
        );
        assert!(
            volumes.contains(&Yaml::String(source.clone())),
            "{source} is a named volume"
        );
        if id == default_id {
            let data_dir = env_var(service(&base, "gateway"), "IMAGEFLEET_DATA_DIR");
            assert_eq!(
                data_dir.as_deref(),
                Some(directory),
                "the default is the old store"
            );
        }
    }
    let known = known_variables();
    let unknown: Vec<_> = variables_in(&read(LAYER))
        .into_iter()
        .filter(|v| !known.contains(v))
        .collect();
    assert!(
        unknown.is_empty(),
        "{LAYER} names variables no binary reads: {unknown:?}"
    );
}
