//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): the value
//! that ties an HTTP request, its command, the worker's span and the events it wrote
//! into one trace. It travels in the HTTP `traceparent` header and in the AMQP header of
//! the same name; the outbox keeps it beside each event. Parsing and formatting are pure;
//! only [`TraceContext::new_root`] and [`TraceContext::child`] draw random ids.
//!
//! The format of version `00` is `00-<trace-id>-<parent-id>-<flags>`: 32 and 16
//! lowercase hex digits, neither all zeros, and two hex digits of flags. A value that
//! does not parse is ignored by the receiver, which starts a new trace (the W3C rule).

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// The header name, in HTTP and on AMQP messages.
pub const TRACEPARENT: &str = "traceparent";

/// The only version this module writes.
const VERSION: u8 = 0x00;
/// Length of a version 00 value: 2 + 1 + 32 + 1 + 16 + 1 + 2.
const LEN_V00: usize = 55;
/// The flag bits defined so far (sampled, and Level 2's random trace id); the others
/// are reserved and must be sent as zero.
const KNOWN_FLAGS: u8 = 0x03;
/// The `sampled` flag.
const SAMPLED: u8 = 0x01;

/// A 16-byte trace id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span (parent) id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

/// One `traceparent`: which trace, which span sent it, and its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: u8,
}

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not the `version-traceid-parentid-flags` shape, or the wrong length.
    #[error("traceparent is not version-trace_id-parent_id-flags")]
    Shape,
    /// A field holds something other than lowercase hex digits.
    #[error("traceparent has a field that is not lowercase hex")]
    NotHex,
    /// Version `ff`, which the specification forbids.
    #[error("traceparent version ff is invalid")]
    ForbiddenVersion,
    /// The trace id or the parent id is all zeros.
    #[error("traceparent has an all-zero trace or parent id")]
    ZeroId,
}

impl TraceId {
    /// The id from its bytes; None when all zero.
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    /// The id from its bytes; None when all zero.
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// A random, non-zero id.
    fn random() -> Self {
        loop {
            if let Some(id) = Self::from_bytes(rand::rng().random()) {
                return id;
            }
        }
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl TraceContext {
    /// A context from its parts. Reserved flag bits are cleared.
    pub fn new(trace_id: TraceId, parent_id: SpanId, flags: u8) -> Self {
        Self {
            trace_id,
            parent_id,
            flags: flags & KNOWN_FLAGS,
        }
    }

    /// The first span of a new trace: random ids, sampled.
    pub fn new_root() -> Self {
        let trace_id = loop {
            if let Some(id) = TraceId::from_bytes(rand::rng().random()) {
                break id;
            }
        };
        Self::new(trace_id, SpanId::random(), SAMPLED)
    }

    /// The context a span of this trace sends onward: same trace and flags, a new
    /// parent id (the sending span's own).
    pub fn child(&self) -> Self {
        Self::new(self.trace_id, SpanId::random(), self.flags)
    }

    /// Parses a `traceparent` value. Version 00 must be exactly 55 characters; a later
    /// version is read by its version 00 prefix, as the specification asks, so that a
    /// newer sender's trace is continued rather than broken.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let bytes = value.as_bytes();
        if bytes.len() < LEN_V00 {
            return Err(TraceParentError::Shape);
        }
        let version = hex_field::<1>(&bytes[0..2])?[0];
        if version == 0xff {
            return Err(TraceParentError::ForbiddenVersion);
        }
        let tail_ok = match version {
            VERSION => bytes.len() == LEN_V00,
            _ => bytes.len() == LEN_V00 || bytes[LEN_V00] == b'-',
        };
        if !tail_ok || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(TraceParentError::Shape);
        }
        let trace_id = TraceId::from_bytes(hex_field(&bytes[3..35])?);
        let parent_id = SpanId::from_bytes(hex_field(&bytes[36..52])?);
        let flags = hex_field::<1>(&bytes[53..55])?[0];
        match (trace_id, parent_id) {
            (Some(trace_id), Some(parent_id)) => Ok(Self::new(trace_id, parent_id, flags)),
            _ => Err(TraceParentError::ZeroId),
        }
    }

    /// The trace this context belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span that sent it.
    pub fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The trace flags (only the defined bits).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the sender recorded its span (the `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

/// Decodes `N` bytes from `2 * N` lowercase hex digits (uppercase is refused: version
/// 00 is lowercase only).
fn hex_field<const N: usize>(digits: &[u8]) -> Result<[u8; N], TraceParentError> {
    if digits.len() != 2 * N
        || !digits
            .iter()
            .all(|d| matches!(d, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(TraceParentError::NotHex);
    }
    let mut out = [0; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| TraceParentError::NotHex)?;
    Ok(out)
}

impl fmt::Display for TraceContext {
    /// Always version 00.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{VERSION:02x}-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

impl FromStr for TraceContext {
    type Err = TraceParentError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
#[path = "trace_context_tests.rs"]
mod tests;
