//! Tests of `traceparent` parsing and formatting: the W3C examples, each kind of
//! refusal, and a property test that formatting then parsing gives the same context.

use super::*;
use proptest::prelude::*;

const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn the_w3c_example_parses_and_formats_back() {
    let context = TraceContext::parse(EXAMPLE).expect("the W3C example");
    assert_eq!(
        context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(context.parent_id().to_string(), "00f067aa0ba902b7");
    assert!(context.sampled());
    assert_eq!(context.to_string(), EXAMPLE);
    assert_eq!(EXAMPLE.parse::<TraceContext>(), Ok(context));
}

#[test]
fn unsampled_is_kept_and_reserved_flags_are_cleared() {
    let unsampled = EXAMPLE.replace("-01", "-00");
    assert!(!TraceContext::parse(&unsampled).expect("parses").sampled());
    let reserved = EXAMPLE.replace("-01", "-ff");
    let context = TraceContext::parse(&reserved).expect("parses");
    assert_eq!(context.flags(), 0x03);
    assert!(context.to_string().ends_with("-03"));
}

#[test]
fn malformed_values_are_refused() {
    let cases = [
        ("", TraceParentError::Shape),
        (&EXAMPLE[..54], TraceParentError::Shape),
        // Version 00 has nothing after the flags.
        (&format!("{EXAMPLE}-00"), TraceParentError::Shape),
        (&EXAMPLE.replace('-', "_"), TraceParentError::Shape),
        (&EXAMPLE.replace("4bf9", "4BF9"), TraceParentError::NotHex),
        (&EXAMPLE.replace("4bf9", "4bfg"), TraceParentError::NotHex),
        (&EXAMPLE.replace("-01", "-0x"), TraceParentError::NotHex),
        (
            &EXAMPLE.replacen("00", "ff", 1),
            TraceParentError::ForbiddenVersion,
        ),
        (
            &format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            TraceParentError::ZeroId,
        ),
        (
            &format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", "0".repeat(16)),
            TraceParentError::ZeroId,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(TraceContext::parse(value), Err(expected), "{value:?}");
    }
}

#[test]
fn a_later_version_is_read_by_its_version_00_prefix() {
    let later = EXAMPLE.replacen("00", "01", 1);
    let context = TraceContext::parse(&format!("{later}-what-comes-next")).expect("parses");
    assert_eq!(context.to_string(), EXAMPLE, "written back as version 00");
    assert_eq!(
        TraceContext::parse(&later).map(|c| c.to_string()),
        Ok(EXAMPLE.to_owned())
    );
    assert_eq!(
        TraceContext::parse(&format!("{later}x")),
        Err(TraceParentError::Shape)
    );
}

#[test]
fn a_child_continues_the_trace_under_a_new_parent() {
    let parent = TraceContext::parse(EXAMPLE).expect("parses");
    let child = parent.child();
    assert_eq!(child.trace_id(), parent.trace_id());
    assert_ne!(child.parent_id(), parent.parent_id());
    assert_eq!(child.flags(), parent.flags());
}

#[test]
fn new_roots_are_sampled_and_distinct() {
    let (a, b) = (TraceContext::new_root(), TraceContext::new_root());
    assert!(a.sampled());
    assert_ne!(a.trace_id(), b.trace_id());
    assert_eq!(TraceContext::parse(&a.to_string()), Ok(a));
}

proptest! {
    #[test]
    fn formatting_then_parsing_is_the_identity(
        trace in any::<[u8; 16]>(),
        parent in any::<[u8; 8]>(),
        flags in any::<u8>(),
    ) {
        let (Some(trace_id), Some(parent_id)) = (TraceId::from_bytes(trace), SpanId::from_bytes(parent)) else {
            return Ok(());
        };
        let context = TraceContext::new(trace_id, parent_id, flags);
        let text = context.to_string();
        prop_assert_eq!(text.len(), 55);
        prop_assert_eq!(TraceContext::parse(&text), Ok(context));
    }

    #[test]
    fn parsing_never_panics(value in "\\PC{0,80}") {
        let _ = TraceContext::parse(&value);
    }

    #[test]
    fn near_misses_never_panic(value in "[0-9a-fA-F-]{50,60}") {
        if let Ok(context) = TraceContext::parse(&value) {
            prop_assert_eq!(TraceContext::parse(&context.to_string()), Ok(context));
        }
    }
}
