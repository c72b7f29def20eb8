//! Unit tests of the intake checks: sizes, content types, producers and forwarding.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};

use super::*;
use domain::command::ImageRef;
use domain::{ImageId, RejectionKind};

fn intake(trusted: &[&str]) -> Intake {
    let trusted = trusted
        .iter()
        .map(|p| p.parse().expect("user:class"))
        .collect();
    IntakePolicy {
        max_command_size: 100,
        trusted,
    }
    .resolve("fleet")
}

fn json() -> BasicProperties {
    BasicProperties::default().with_content_type("application/json".into())
}

fn from(user: &str) -> BasicProperties {
    json().with_user_id(user.into())
}

fn forwarded(user: &str, original: &str) -> BasicProperties {
    let mut table = FieldTable::default();
    table.insert(PRODUCER.into(), AMQPValue::LongString(original.into()));
    from(user).with_headers(table)
}

fn purge() -> Command {
    Command::PurgeImage(ImageRef {
        image_id: ImageId::generate(),
        expected_version: None,
    })
}

fn deactivate() -> Command {
    Command::DeactivateImage(ImageRef {
        image_id: ImageId::generate(),
        expected_version: None,
    })
}

#[test]
fn a_message_over_the_size_limit_is_refused_unread() {
    let refused = intake(&[])
        .check_message(&json(), 101)
        .expect_err("too big");
    assert_eq!(refused.kind, RejectionKind::PayloadTooLarge);
    assert!(refused.message.contains("101 bytes"), "{}", refused.message);
    assert!(intake(&[]).check_message(&json(), 100).is_ok());
}

#[test]
fn only_uncompressed_utf8_json_is_read() {
    let intake = intake(&[]);
    let with = |t: &str| BasicProperties::default().with_content_type(t.into());
    for good in [
        json(),
        with("application/json; charset=utf-8"),
        with("Application/JSON;charset=\"UTF-8\""),
        json().with_content_encoding("identity".into()),
    ] {
        assert!(intake.check_message(&good, 10).is_ok(), "{good:?}");
    }
    for bad in [
        BasicProperties::default(),
        with("text/plain"),
        with("application/xml"),
        with("application/json; charset=utf-16"),
        json().with_content_encoding("gzip".into()),
    ] {
        let refused = intake.check_message(&bad, 10).expect_err("refused");
        assert_eq!(refused.kind, RejectionKind::UnsupportedMediaType, "{bad:?}");
    }
}

#[test]
fn the_workers_own_user_is_an_operator_and_strangers_are_refused() {
    let intake = intake(&[]);
    let own = intake.producer(&from("fleet")).expect("own user");
    assert_eq!(own.class, ProducerClass::Operator);
    assert!(intake.permit(&own, &purge()).is_ok());
    for stranger in [json(), from("mallory")] {
        let refused = intake.producer(&stranger).expect_err("a stranger");
        assert_eq!(refused.kind, RejectionKind::Forbidden, "{stranger:?}");
    }
}

#[test]
fn a_gateway_sends_user_facing_commands_only() {
    let intake = intake(&["gw:gateway"]);
    let gateway = intake.producer(&from("gw")).expect("trusted");
    assert_eq!(gateway.class, ProducerClass::Gateway);
    assert!(intake.permit(&gateway, &deactivate()).is_ok());
    let refused = intake
        .permit(&gateway, &purge())
        .expect_err("not a gateway command");
    assert!(
        refused.message.contains("purge_image"),
        "{}",
        refused.message
    );
}

#[test]
fn only_operators_forward_and_the_original_producer_is_judged() {
    let intake = intake(&["gw:gateway", "ops:operator"]);
    let replayed = intake.producer(&forwarded("ops", "gw")).expect("forwarded");
    assert_eq!(replayed.user, "gw");
    assert_eq!(replayed.class, ProducerClass::Gateway);
    for refused in [
        forwarded("ops", "mallory"),
        forwarded("ops", ""),
        forwarded("gw", "ops"),
    ] {
        assert!(intake.producer(&refused).is_err(), "{refused:?}");
    }
}

#[test]
fn provenance_keeps_a_refused_producer_refused() {
    let intake = intake(&["ops:operator"]);
    assert_eq!(intake.provenance(&from("mallory")), "mallory");
    assert_eq!(intake.provenance(&json()), "");
    assert_eq!(intake.provenance(&forwarded("ops", "gw")), "gw");
    // A stranger's claim to forward is not believed.
    assert_eq!(intake.provenance(&forwarded("mallory", "ops")), "mallory");
}

#[test]
fn trusted_producers_parse_from_user_and_class() {
    let parsed: TrustedProducer = "svc:gw:Gateway".parse().expect("parses");
    assert_eq!(parsed.user, "svc:gw");
    assert_eq!(parsed.class, ProducerClass::Gateway);
    for bad in ["nobody", ":operator", "x:admin"] {
        assert!(bad.parse::<TrustedProducer>().is_err(), "{bad}");
    }
}
