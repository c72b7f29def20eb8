//! The container set-up: `docker-compose.yml` must describe a site that starts in order
//! (migrations after a healthy Postgres, gateway and workers after the migrations), whose
//! gateway and workers report readiness (`/readyz`) as their health, scales its workers,
//! shares one image store between gateway and workers, and only sets `IMAGEFLEET_*`
//! variables the binaries read (nor may the `Dockerfile`; its stages are checked in
//! [`crate::dockerfile`]).
//!
//! No Docker engine is needed: the files are parsed. Where the `docker compose` plugin is
//! installed, `docker compose config -q` validates the file against the compose schema
//! too. These tests need neither Postgres nor RabbitMQ.

use std::collections::BTreeSet;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::repo_files::{known_variables, read, root, variables_in};

fn compose() -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    assert_eq!(docs.len(), 1, "docker-compose.yml holds one document");
    docs.remove(0)
}

pub(crate) fn service<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &doc["services"][name];
    assert!(service.is_hash(), "service {name} is missing");
    service
}

/// A service's environment, in either of compose's spellings (map or `NAME=value` list).
fn env(service: &Yaml) -> Vec<(String, String)> {
    let scalar = |v: &Yaml| match v {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    };
    match &service["environment"] {
        Yaml::Hash(map) => map.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Yaml::Array(list) => list
            .iter()
            .filter_map(Yaml::as_str)
            .map(|item| {
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn env_var(service: &Yaml, name: &str) -> Option<String> {
    env(service)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The `(published, target)` ports of a service, from short (`[ip:]host:container[/proto]`)
/// or long (`{target, published}`) entries.
fn ports(service: &Yaml) -> Vec<(String, String)> {
    let Some(list) = service["ports"].as_vec() else {
        return Vec::new();
    };
    list.iter()
        .map(|entry| match entry {
            Yaml::Hash(_) => {
                let field = |k: &str| match &entry[k] {
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::String(s) => s.clone(),
                    _ => String::new(),
                };
                (field("published"), field("target"))
            }
            other => {
                let text = match other {
                    Yaml::Integer(i) => i.to_string(),
                    _ => other.as_str().unwrap_or_default().to_owned(),
                };
                let text = text.split('/').next().unwrap_or_default();
                let mut parts = text.rsplit(':');
                let target = parts.next().unwrap_or_default().to_owned();
                let published = parts.next().unwrap_or_default().to_owned();
                (published, target)
            }
        })
        .collect()
}

fn condition<'a>(service: &'a Yaml, on: &str) -> Option<&'a str> {
    service["depends_on"][on]["condition"].as_str()
}

fn has_healthcheck(service: &Yaml) -> bool {
    let check = &service["healthcheck"];
    let test = &check["test"];
    let disabled = check["disable"].as_bool() == Some(true)
        || test.as_vec().and_then(|t| t.first()).and_then(Yaml::as_str) == Some("NONE");
    !disabled && (test.as_str().is_some() || test.as_vec().is_some_and(|t| t.len() > 1))
}

#[test]
fn services_start_in_order_and_answer_health_checks() {
    let doc = compose();
    let names: BTreeSet<&str> = doc["services"]
        .as_hash()
        .expect("a services map")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    for expected in ["postgres", "rabbitmq", "migrate", "gateway", "worker"] {
        assert!(names.contains(expected), "no service {expected}: {names:?}");
    }
    for name in ["postgres", "rabbitmq", "gateway", "worker"] {
        assert!(
            has_healthcheck(service(&doc, name)),
            "{name} has no health check"
        );
    }

    let migrate = service(&doc, "migrate");
    assert_eq!(condition(migrate, "postgres"), Some("service_healthy"));
    let command = migrate["command"]
        .as_vec()
        .expect("migrate's command as a list");
    let command: Vec<_> = command.iter().filter_map(Yaml::as_str).collect();
    assert_eq!(command, ["workers", "migrate"]);
    assert_eq!(
        migrate["restart"].as_str(),
        Some("no"),
        "migrate is one-shot"
    );

    for name in ["gateway", "worker"] {
        let s = service(&doc, name);
        assert_eq!(
            condition(s, "migrate"),
            Some("service_completed_successfully"),
            "{name} must wait for the migrations"
        );
        assert_eq!(condition(s, "rabbitmq"), Some("service_healthy"), "{name}");
    }

    let gateway = service(&doc, "gateway");
    assert!(
        ports(gateway)
            .iter()
            .any(|(p, t)| p == "9292" && t == "9292"),
        "the gateway publishes 9292: {:?}",
        ports(gateway)
    );
    assert_eq!(
        env_var(gateway, "IMAGEFLEET_BIND").as_deref(),
        Some("0.0.0.0:9292")
    );
}

/// The health check's command as one text (list entries joined by spaces).
fn health_command(service: &Yaml) -> String {
    let test = &service["healthcheck"]["test"];
    match test.as_vec() {
        Some(parts) => parts
            .iter()
            .filter_map(Yaml::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        None => test.as_str().unwrap_or_default().to_owned(),
    }
}

/// The port of a `host:port` address.
fn port_of(address: &str) -> String {
    address.rsplit(':').next().unwrap_or_default().to_owned()
}

#[test]
fn gateway_and_worker_health_checks_ask_readyz_on_their_own_port() {
    let doc = compose();
    let gateway = service(&doc, "gateway");
    let gateway_port = port_of(&env_var(gateway, "IMAGEFLEET_BIND").unwrap_or_default());
    let worker = service(&doc, "worker");
    // A worker serves /readyz on its operations port; unset, the first default port
    // (each container has its own network, so its one worker gets that port).
    let worker_bind = env_var(worker, "IMAGEFLEET_METRICS_BIND")
        .unwrap_or_else(|| format!("127.0.0.1:{}", workers::ops_port::FIRST_DEFAULT_PORT));
    for (name, port) in [("gateway", gateway_port), ("worker", port_of(&worker_bind))] {
        let command = health_command(service(&doc, name));
        assert!(
            command.contains("GET /readyz "),
            "{name} must check readiness (Postgres, migrations, RabbitMQ), not only that \
             it answers: {command}"
        );
        assert!(
            command.contains(&format!("/dev/tcp/127.0.0.1/{port}")),
            "{name}'s health check must call its own port {port}: {command}"
        );
        assert!(
            command.contains(" 200 "),
            "{name}: a 503 must fail the check"
        );
    }
}

#[test]
fn workers_scale_and_share_the_image_store_with_the_gateway() {
    let doc = compose();
    let worker = service(&doc, "worker");
    assert!(
        worker["container_name"].is_badvalue(),
        "a container_name stops `--scale worker=N`"
    );
    assert!(
        ports(worker).is_empty(),
        "published worker ports clash when scaled"
    );

    let volumes = doc["volumes"].as_hash().expect("top-level named volumes");
    let mut targets = Vec::new();
    for name in ["gateway", "worker"] {
        let s = service(&doc, name);
        let data_dir = env_var(s, "IMAGEFLEET_DATA_DIR")
            .unwrap_or_else(|| panic!("{name} sets no IMAGEFLEET_DATA_DIR"));
        let mount = s["volumes"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter_map(Yaml::as_str)
            .filter_map(|m| m.split_once(':'))
            .find(|(_, target)| target.split(':').next() == Some(data_dir.as_str()));
        let (source, _) = mount.unwrap_or_else(|| panic!("{name}: nothing mounted at {data_dir}"));
        assert!(
            volumes.contains_key(&Yaml::String(source.to_owned())),
            "{name} mounts {source}, which is not a named volume"
        );
        targets.push((source.to_owned(), data_dir));
    }
    assert_eq!(
        targets[0].0, targets[1].0,
        "gateway and worker must share one store"
    );
}

#[test]
fn connection_urls_name_the_compose_services() {
    let doc = compose();
    for name in ["migrate", "gateway", "worker"] {
        let s = service(&doc, name);
        let database = env_var(s, "IMAGEFLEET_DATABASE_URL")
            .unwrap_or_else(|| panic!("{name} sets no IMAGEFLEET_DATABASE_URL"));
        assert!(database.contains("@postgres:5432/"), "{name}: {database}");
        if name != "migrate" {
            let amqp = env_var(s, "IMAGEFLEET_AMQP_URL")
                .unwrap_or_else(|| panic!("{name} sets no IMAGEFLEET_AMQP_URL"));
            assert!(amqp.contains("@rabbitmq:5672/"), "{name}: {amqp}");
        }
    }
}

#[test]
fn every_variable_set_is_one_the_binaries_read() {
    let known = known_variables();
    assert!(
        known.contains("IMAGEFLEET_DATABASE_URL") && known.contains("IMAGEFLEET_DATA_DIR"),
        "the clap definitions were not found: {known:?}"
    );
    for file in ["docker-compose.yml", "Dockerfile"] {
        let unknown: Vec<_> = variables_in(&read(file))
            .into_iter()
            .filter(|v| !known.contains(v))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} names variables no binary reads: {unknown:?}"
        );
    }
}

#[test]
fn docker_compose_accepts_the_file_where_installed() {
    let available = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !available {
        println!("docker compose is not installed: `docker compose config -q` skipped");
        return;
    }
    let out = Command::new("docker")
        .args(["compose", "-f"])
        .arg(root().join("docker-compose.yml"))
        .args(["config", "-q"])
        .output()
        .expect("running docker compose");
    assert!(
        out.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
