//! The `IMAGEFLEET_IMPORT_*` settings: names, defaults, and the filter they build.

use crate::{ImportFilterArgs, UrlRefusal};
use clap::{CommandFactory, FromArgMatches, Parser};

#[derive(Parser)]
struct Probe {
    #[command(flatten)]
    import: ImportFilterArgs,
}

/// Parses `argv` with every argument's environment variable removed: the defaults
/// checked are the built-in ones, whatever `IMAGEFLEET_*` the shell running the
/// tests has set.
fn parse(argv: &[&str]) -> Result<Probe, clap::Error> {
    let command = Probe::command().mut_args(|arg| arg.env(None::<&str>));
    Probe::from_arg_matches(&command.try_get_matches_from(argv)?)
}

#[test]
fn the_environment_names_are_the_documented_ones() {
    let command = Probe::command();
    let mut names: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "IMAGEFLEET_IMPORT_ALLOWED_HOSTS",
            "IMAGEFLEET_IMPORT_ALLOWED_PORTS",
            "IMAGEFLEET_IMPORT_ALLOWED_SCHEMES",
            "IMAGEFLEET_IMPORT_DISALLOWED_HOSTS",
            "IMAGEFLEET_IMPORT_MAX_REDIRECTS",
            "IMAGEFLEET_IMPORT_TIMEOUT",
        ]
    );
}

#[test]
fn defaults_are_glances() {
    let probe = parse(&["probe"]).expect("defaults parse");
    assert_eq!(probe.import.filter(), crate::ImportFilter::default());
    assert_eq!(probe.import.import_max_redirects, 5);
    assert_eq!(probe.import.timeout().as_secs(), 3600);
}

#[test]
fn comma_separated_lists_build_the_filter() {
    let probe = parse(&[
        "probe",
        "--import-allowed-hosts",
        "127.0.0.1,mirror.example.com",
        "--import-allowed-ports",
        "80,8080",
        "--import-disallowed-hosts",
        "mirror.example.com",
        "--import-allowed-schemes",
        "https",
    ])
    .expect("flags parse");
    let filter = probe.import.filter();
    assert!(filter.check_url("https://127.0.0.1:8080/x").is_ok());
    assert_eq!(
        filter.check_url("https://127.0.0.1:443/x"),
        Err(UrlRefusal::Port(443))
    );
    assert!(matches!(
        filter.check_url("https://mirror.example.com:80/x"),
        Err(UrlRefusal::HostDisallowed(_))
    ));
    assert!(matches!(
        filter.check_url("http://127.0.0.1:80/x"),
        Err(UrlRefusal::Scheme(_))
    ));
}
