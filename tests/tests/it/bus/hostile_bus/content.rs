//! Messages refused before they are read: bigger than the configured largest command,
//! or not uncompressed UTF-8 JSON. Each carries a command that would otherwise apply,
//! so a refusal proves the body was never parsed.

use bus::WorkQueue;
use bus::connection::login_of;
use bus::intake::IntakePolicy;
use domain::RejectionKind;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use lapin::BasicProperties;

use super::*;

/// The largest command the test's worker reads.
const MAX: usize = 4096;

/// One hostile message and how it must be refused.
struct Case {
    name: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    encoding: Option<&'static str>,
    kind: RejectionKind,
    /// Part of the dead letter's reason.
    reason: &'static str,
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_mistyped_messages_are_dead_lettered_unread() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let intake = IntakePolicy {
        max_command_size: MAX,
        ..IntakePolicy::default()
    };
    let worker = TestWorker::start_trusting(&db, &bus, "hostile-content", intake);
    let mut probe = BusProbe::new(&bus).await;
    let image = created_image(&mut probe, "content").await;
    let before = snapshot(&db, image).await;

    let json = |tag: &str| serde_json::to_vec(&harmful(image, tag)).expect("json");
    // Valid JSON, padded with whitespace past the limit.
    let mut oversized = json("oversized");
    oversized.resize(MAX + 1, b' ');
    let case = |name, body, content_type, encoding, kind, reason| Case {
        name,
        body,
        content_type,
        encoding,
        kind,
        reason,
    };
    let too_large = RejectionKind::PayloadTooLarge;
    let unsupported = RejectionKind::UnsupportedMediaType;
    let json_type = Some("application/json");
    let cases = [
        case(
            "oversized",
            oversized,
            json_type,
            None,
            too_large,
            "more than the largest command",
        ),
        case(
            "text/plain",
            json("plain"),
            Some("text/plain"),
            None,
            unsupported,
            "'text/plain' is not",
        ),
        case(
            "xml",
            b"<command type=\"add_tag\"/>".to_vec(),
            Some("application/xml"),
            None,
            unsupported,
            "'application/xml' is not",
        ),
        case(
            "no content type",
            json("untyped"),
            None,
            None,
            unsupported,
            "no content_type",
        ),
        case(
            "utf-16",
            json("utf16"),
            Some("application/json; charset=utf-16"),
            None,
            unsupported,
            "charset 'utf-16'",
        ),
        case(
            "gzip",
            json("gzip"),
            json_type,
            Some("gzip"),
            unsupported,
            "content_encoding 'gzip'",
        ),
    ];
    for case in &cases {
        // The probe's well-formed properties with the case's content type and encoding.
        let mut properties = BasicProperties::default()
            .with_user_id(login_of(bus.url()).into())
            .with_reply_to(probe.reply_queue().into())
            .with_correlation_id(case.name.into());
        if let Some(content_type) = case.content_type {
            properties = properties.with_content_type(content_type.into());
        }
        if let Some(encoding) = case.encoding {
            properties = properties.with_content_encoding(encoding.into());
        }
        probe.publish_with(&case.body, properties).await;
    }
    let answers = replies(&mut probe, cases.len()).await;
    for case in &cases {
        let (kind, command_id) = rejected(case.name, &answers[case.name]);
        assert_eq!(kind, case.kind, "{}", case.name);
        assert_eq!(
            command_id, None,
            "{}: refused before its id was read",
            case.name
        );
    }
    let dead = take_dead_letters(&bus, WorkQueue::Commands, cases.len()).await;
    assert_eq!(dead.len(), cases.len(), "{dead:?}");
    assert!(
        dead.iter()
            .all(|d| d.class == Some(FailureClass::Unreadable)),
        "{dead:?}"
    );
    for case in &cases {
        assert!(
            dead.iter().any(|d| d.reason.contains(case.reason)),
            "{}: no dead letter says '{}': {dead:?}",
            case.name,
            case.reason
        );
    }
    let oversized = dead
        .iter()
        .find(|d| d.reason.contains("largest command"))
        .expect("the oversized letter");
    assert_eq!(oversized.body.len(), MAX + 1, "dead-lettered whole");
    assert_eq!(snapshot(&db, image).await, before, "nothing changed");
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}
