//! The worker fleet's flags as `workers run` and `imagefleet up` parse them (without the
//! process environment): the multipart grace has a floor, so a janitor never aborts an
//! upload that may still be running under its data lease.

use clap::Parser;
use imagefleet_tests::flags::parse_without_env;
use workers::FleetArgs;

#[derive(Debug, Parser)]
struct Fleet {
    #[command(flatten)]
    fleet: FleetArgs,
}

#[test]
fn the_multipart_grace_defaults_to_a_day_and_refuses_less_than_an_hour() {
    let parsed: Fleet = parse_without_env(["workers"]).expect("defaults parse");
    assert_eq!(parsed.fleet.multipart_grace, 86_400);
    let hour: Fleet =
        parse_without_env(["workers", "--multipart-grace", "3600"]).expect("an hour is accepted");
    assert_eq!(hour.fleet.multipart_grace, 3600);
    let error = parse_without_env::<Fleet>(["workers", "--multipart-grace", "60"])
        .expect_err("a minute is refused");
    assert!(
        error.to_string().contains("--multipart-grace"),
        "the error names the flag: {error}"
    );
}
