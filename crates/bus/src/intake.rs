//! What a worker checks of a message before it reads it as a command, and who may send
//! which command: the trust model of producers (README, "Producers and trust").
//!
//! A producer is the RabbitMQ user it logs in as. The broker checks the AMQP `user_id`
//! property against the publishing connection's user ("validated user-id"), so a
//! worker can rely on `user_id` as the producer's identity; the envelope's `actor` is
//! what that producer vouches for. A command is applied only when its producer is
//! trusted and its class may send the command's type. The worker's own user is always
//! an [`ProducerClass::Operator`], so a site whose parts share one user (guest on a
//! development broker, `imagefleet` under docker compose) needs no configuration.
//!
//! Operators may forward another producer's message: a worker's retries and dead
//! letters, and `imagefleet dlq replay`, carry the producer the message came from in
//! the `x-imagefleet-producer` header ([`super::headers::PRODUCER`]), and that producer
//! is judged instead, so a replay never gains rights the original did not have.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use lapin::BasicProperties;
use lapin::types::AMQPValue;

use crate::headers::PRODUCER;
use domain::{Command, Rejection, RejectionKind};

/// The largest command a worker reads by default: 1 MiB, far above the largest valid
/// command (an update at the property quota), far below the broker's limit.
pub const DEFAULT_MAX_COMMAND_SIZE: usize = 1 << 20;

/// What producers may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProducerClass {
    /// A gateway: every user-facing command (what the Glance API can ask for), with
    /// any actor it vouches for; not the steps of imports, tasks and the scrubber.
    Gateway,
    /// The fleet and its operators: every command, and forwarding other producers'
    /// messages (retries, dead-letter replays) under their original producer.
    Operator,
}

impl ProducerClass {
    /// Whether this class may send `command`.
    pub fn allows(self, command: &Command) -> bool {
        use Command::*;
        match self {
            ProducerClass::Operator => true,
            // Exhaustive on purpose: a new command does not compile until it is
            // placed on one side.
            ProducerClass::Gateway => match command {
                CreateImage(_) | UpdateImage(_) | BeginUpload(_) | CompleteUpload(_)
                | AbortUpload(_) | BeginStage(_) | CompleteStage(_) | AbortStage(_)
                | BeginImport(_) | DeactivateImage(_) | ReactivateImage(_) | DeleteImage(_)
                | RestoreImage(_) | AddLocation(_) | RemoveLocation(_) | DeleteFromStore(_)
                | AddTag(_) | RemoveTag(_) | AddMember(_) | UpdateMember(_) | RemoveMember(_)
                | CreateTask(_) => true,
                // Steps of jobs and the janitor: only the fleet takes them.
                ImportStoreDone(_) | CompleteImport(_) | FailImport(_) | PurgeImage(_)
                | StartTask(_) | SucceedTask(_) | FailTask(_) | ExpireTask(_) => false,
            },
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProducerClass::Gateway => "gateway",
            ProducerClass::Operator => "operator",
        }
    }
}

/// One trusted producer: `user:class` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProducer {
    /// The RabbitMQ user.
    pub user: String,
    /// What it may send.
    pub class: ProducerClass,
}

impl std::str::FromStr for TrustedProducer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (user, class) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("'{text}' is not user:class"))?;
        if user.is_empty() {
            return Err(format!("'{text}' names no user"));
        }
        let class = ProducerClass::from_str(class, true)
            .map_err(|_| format!("'{class}' is not a producer class (gateway, operator)"))?;
        Ok(Self {
            user: user.to_owned(),
            class,
        })
    }
}

/// The settings of [`IntakePolicy`], for the binaries that run workers.
#[derive(Debug, Clone, Args)]
pub struct IntakeArgs {
    /// The largest command message in bytes: a bigger one is dead-lettered unread.
    #[arg(long, env = "IMAGEFLEET_MAX_COMMAND_SIZE", default_value_t = DEFAULT_MAX_COMMAND_SIZE)]
    pub max_command_size: usize,
    /// Producers trusted besides the worker's own RabbitMQ user (always an operator):
    /// `user:class` pairs, comma-separated, class `gateway` or `operator`.
    #[arg(long, env = "IMAGEFLEET_TRUSTED_PRODUCERS", value_delimiter = ',')]
    pub trusted_producers: Vec<TrustedProducer>,
}

impl IntakeArgs {
    /// The policy these settings describe.
    pub fn to_policy(&self) -> IntakePolicy {
        IntakePolicy {
            max_command_size: self.max_command_size,
            trusted: self.trusted_producers.clone(),
        }
    }
}

/// What a worker admits to its work queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePolicy {
    /// The largest message read, in bytes.
    pub max_command_size: usize,
    /// Trusted producers besides the worker's own user.
    pub trusted: Vec<TrustedProducer>,
}

impl Default for IntakePolicy {
    fn default() -> Self {
        Self {
            max_command_size: DEFAULT_MAX_COMMAND_SIZE,
            trusted: Vec::new(),
        }
    }
}

impl IntakePolicy {
    /// The policy of a worker logged in as `own_user`, who is an operator whatever the
    /// configuration says.
    pub fn resolve(&self, own_user: &str) -> Intake {
        let mut trusted: BTreeMap<String, ProducerClass> = self
            .trusted
            .iter()
            .map(|p| (p.user.clone(), p.class))
            .collect();
        trusted.insert(own_user.to_owned(), ProducerClass::Operator);
        Intake {
            max_command_size: self.max_command_size,
            own_user: own_user.to_owned(),
            trusted,
        }
    }
}

/// An [`IntakePolicy`] resolved for one worker: the checks themselves.
#[derive(Debug, Clone)]
pub struct Intake {
    max_command_size: usize,
    own_user: String,
    trusted: BTreeMap<String, ProducerClass>,
}

/// The producer a command is judged as, and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    /// The RabbitMQ user that sent the command in the first place.
    pub user: String,
    /// What it may send.
    pub class: ProducerClass,
}

impl Intake {
    /// The RabbitMQ user this worker publishes as (the `user_id` of its letters).
    pub fn own_user(&self) -> &str {
        &self.own_user
    }

    /// Checks what can be checked before reading the body: its size, content type and
    /// encoding. Each refusal is permanent.
    pub fn check_message(
        &self,
        properties: &BasicProperties,
        size: usize,
    ) -> Result<(), Rejection> {
        if size > self.max_command_size {
            return Err(Rejection::new(
                RejectionKind::PayloadTooLarge,
                format!(
                    "the message has {size} bytes, more than the largest command ({} bytes, \
                     IMAGEFLEET_MAX_COMMAND_SIZE); it was not read",
                    self.max_command_size
                ),
            ));
        }
        check_content_type(properties)
    }

    /// The producer a command message is judged as: its validated `user_id`, or, when
    /// an operator forwards it, the producer named in `x-imagefleet-producer`.
    pub fn producer(&self, properties: &BasicProperties) -> Result<Producer, Rejection> {
        let Some(user) = properties.user_id().as_ref().map(|u| u.as_str()) else {
            return Err(Rejection::forbidden(
                "the message has no user_id: producers must set it to their RabbitMQ user \
                 (the broker checks it)",
            ));
        };
        let class = self.class_of(user)?;
        let Some(original) = forwarded_for(properties) else {
            return Ok(Producer {
                user: user.to_owned(),
                class,
            });
        };
        if class != ProducerClass::Operator {
            return Err(Rejection::forbidden(format!(
                "producer '{user}' ({}) may not forward messages ({PRODUCER})",
                class.name()
            )));
        }
        if original.is_empty() {
            return Err(Rejection::forbidden(format!(
                "the message forwarded by '{user}' came from an unidentified producer"
            )));
        }
        let class = self.class_of(&original)?;
        Ok(Producer {
            user: original,
            class,
        })
    }

    /// Whether `producer` may send `command`.
    pub fn permit(&self, producer: &Producer, command: &Command) -> Result<(), Rejection> {
        if producer.class.allows(command) {
            return Ok(());
        }
        Err(Rejection::forbidden(format!(
            "producer '{}' ({}) may not send {}",
            producer.user,
            producer.class.name(),
            command.type_name()
        )))
    }

    /// Whom a letter this worker publishes about `properties` (a retry or a dead
    /// letter) is from: the forwarded producer if an operator forwarded it, else the
    /// message's own `user_id` ("" when it had none), trusted or not, so a refused
    /// message stays refused when it is replayed.
    pub fn provenance(&self, properties: &BasicProperties) -> String {
        let user = properties.user_id().as_ref().map(|u| u.to_string());
        let operator = user
            .as_deref()
            .is_some_and(|u| self.trusted.get(u) == Some(&ProducerClass::Operator));
        match forwarded_for(properties) {
            Some(original) if operator => original,
            _ => user.unwrap_or_default(),
        }
    }

    fn class_of(&self, user: &str) -> Result<ProducerClass, Rejection> {
        self.trusted.get(user).copied().ok_or_else(|| {
            Rejection::forbidden(format!(
                "producer '{user}' is not trusted (IMAGEFLEET_TRUSTED_PRODUCERS)"
            ))
        })
    }
}

/// The producer an operator's message says it forwards, if it says so.
pub fn forwarded_for(properties: &BasicProperties) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(PRODUCER)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        // A header of another type names nobody: judged as unidentified.
        _ => Some(String::new()),
    }
}

/// Commands are JSON, uncompressed: `application/json` (UTF-8, the only charset JSON
/// is read in) and no content encoding other than `identity`.
fn check_content_type(properties: &BasicProperties) -> Result<(), Rejection> {
    let unsupported =
        |message: String| Rejection::new(RejectionKind::UnsupportedMediaType, message);
    let Some(content_type) = properties.content_type().as_ref() else {
        return Err(unsupported(
            "the message has no content_type: commands are application/json".to_owned(),
        ));
    };
    let mut parts = content_type.as_str().split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(unsupported(format!(
            "content_type '{content_type}' is not application/json"
        )));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Err(unsupported(format!(
                "charset '{value}' is not supported: commands are UTF-8"
            )));
        }
    }
    match properties.content_encoding().as_ref() {
        None => Ok(()),
        Some(encoding) if encoding.as_str().eq_ignore_ascii_case("identity") => Ok(()),
        Some(encoding) => Err(unsupported(format!(
            "content_encoding '{encoding}' is not supported: send the JSON uncompressed"
        ))),
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
