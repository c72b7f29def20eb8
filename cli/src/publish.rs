//! `imagefleet publish`: put one command on the bus from a JSON file or standard input.
//! The input is either a full command envelope (sent as it is, command id included, so
//! re-running it is an idempotent retry) or a bare `{"type": ..., "payload": ...}`
//! command, wrapped in a fresh envelope for the actor named by `--project`, `--user`
//! and `--roles`. With `--wait` the reply is awaited and printed, and the exit code
//! tells the outcome: 0 accepted, 3 rejected, 4 no reply in time, 1 any other error.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bus::AmqpArgs;
use bus::client::{ClientError, CommandClient};
use clap::Args;
use domain::{Actor, Command};
use wire::{CommandEnvelope, CommandReply};

/// Exit code when the command was accepted (or published, without `--wait`).
pub const EXIT_ACCEPTED: u8 = crate::exit::SUCCESS;
/// Exit code for any failure other than a rejection or a timeout.
pub const EXIT_ERROR: u8 = crate::exit::ERROR;
/// Exit code when a worker rejected the command.
pub const EXIT_REJECTED: u8 = crate::exit::REJECTED;
/// Exit code when no reply came in time: the outcome is unknown, and re-running with
/// the same envelope (same `command_id`) is safe.
pub const EXIT_TIMEOUT: u8 = crate::exit::NO_REPLY;

/// Arguments of `imagefleet publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// JSON file holding the command; `-` (the default) reads standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: PathBuf,
    /// The actor's project, when the input is a bare command.
    #[arg(long)]
    pub project: Option<String>,
    /// The actor's user id, when the input is a bare command.
    #[arg(long)]
    pub user: Option<String>,
    /// The actor's roles, comma-separated, when the input is a bare command
    /// (default `member`).
    #[arg(long, value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
    /// Correlation id to put in a fresh envelope (for tracing the request in logs).
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// Wait for the worker's reply and print it.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait for the broker's confirm, and with `--wait` for the reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
}

/// Who a bare command is sent as, from the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorFlags {
    /// `--project`.
    pub project: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--roles`.
    pub roles: Option<Vec<String>>,
    /// `--correlation-id`.
    pub correlation_id: Option<String>,
}

impl ActorFlags {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Reads the input as a full envelope (it has a `schema`) or as a bare command wrapped
/// in a fresh envelope for the actor in `flags`.
pub fn envelope_from_json(input: &str, flags: &ActorFlags) -> anyhow::Result<CommandEnvelope> {
    let value: serde_json::Value = serde_json::from_str(input).context("the input is not JSON")?;
    let Some(object) = value.as_object() else {
        bail!("the input must be a JSON object");
    };
    if object.contains_key("schema") {
        if !flags.is_empty() {
            bail!(
                "the input is a full envelope: --project, --user, --roles and \
                 --correlation-id apply to bare commands only"
            );
        }
        return serde_json::from_value(value).context("the input is not a valid command envelope");
    }
    if !object.contains_key("type") {
        bail!(
            "the input must be a command envelope or a {{\"type\": ..., \"payload\": ...}} command"
        );
    }
    let command: Command =
        serde_json::from_value(value).context("the input is not a valid command")?;
    let (Some(project), Some(user)) = (&flags.project, &flags.user) else {
        bail!("a bare command needs --project and --user to say who sends it");
    };
    let roles = flags
        .roles
        .clone()
        .unwrap_or_else(|| vec!["member".to_owned()]);
    let actor = Actor {
        project_id: project.clone(),
        user_id: user.clone(),
        roles,
    };
    let envelope = CommandEnvelope::new(actor, command);
    Ok(match &flags.correlation_id {
        Some(id) => envelope.with_correlation_id(id.clone()),
        None => envelope,
    })
}

/// The exit code that reports a reply.
pub fn exit_code(reply: &CommandReply) -> u8 {
    match reply {
        CommandReply::Accepted { .. } => EXIT_ACCEPTED,
        CommandReply::Rejected { .. } => EXIT_REJECTED,
    }
}

/// Runs `imagefleet publish`.
pub async fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let flags = ActorFlags {
        project: args.project,
        user: args.user,
        roles: args.roles,
        correlation_id: args.correlation_id,
    };
    let envelope = envelope_from_json(&input, &flags)?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .context("--timeout must be a non-negative number of seconds")?;
    let client = CommandClient::connect_named(
        &args.amqp.amqp_url,
        args.amqp.topology(),
        "imagefleet-cli-publish",
    )
    .await?
    .with_publish_timeout(timeout);
    let outcome = if args.wait {
        client.send(&envelope, timeout).await.map(Some)
    } else {
        client.publish(&envelope).await.map(|()| None)
    };
    client.close().await;
    match outcome {
        Ok(Some(reply)) => {
            println!("{}", serde_json::to_string_pretty(&reply)?);
            Ok(ExitCode::from(exit_code(&reply)))
        }
        Ok(None) => {
            println!("{}", envelope.command_id);
            Ok(ExitCode::from(EXIT_ACCEPTED))
        }
        Err(error @ ClientError::Timeout(_)) => {
            // Print the envelope itself: publishing it again (same command_id) is the
            // safe way to learn the outcome, which a fresh wrapper would not be.
            println!("{}", serde_json::to_string(&envelope)?);
            eprintln!(
                "error: {error}; the envelope is on standard output: publish it again \
                 with --wait to learn the outcome (it is applied at most once)"
            );
            Ok(ExitCode::from(EXIT_TIMEOUT))
        }
        Err(error) => Err(error).context(format!("publishing command {}", envelope.command_id)),
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("reading the command from standard input")?;
        Ok(input)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARE: &str = r#"{"type": "deactivate_image",
        "payload": {"image_id": "6b3a3bb4-0c1a-4a38-9c38-1c1a0e0d2b11"}}"#;

    fn flags() -> ActorFlags {
        ActorFlags {
            project: Some("p1".into()),
            user: Some("u1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_command_is_wrapped_for_the_named_actor() {
        let envelope = envelope_from_json(BARE, &flags()).expect("wrapped");
        assert_eq!(envelope.command.type_name(), "deactivate_image");
        assert_eq!(envelope.actor.project_id, "p1");
        assert_eq!(envelope.actor.roles, vec!["member".to_owned()]);
    }

    #[test]
    fn a_bare_command_needs_an_actor() {
        let error = envelope_from_json(BARE, &ActorFlags::default()).expect_err("no actor");
        assert!(error.to_string().contains("--project"), "{error}");
    }

    #[test]
    fn a_full_envelope_is_sent_as_it_is() {
        let original = envelope_from_json(BARE, &flags()).expect("wrapped");
        let text = serde_json::to_string(&original).expect("serialises");
        let again = envelope_from_json(&text, &ActorFlags::default()).expect("read back");
        assert_eq!(again, original);
        assert!(
            envelope_from_json(&text, &flags()).is_err(),
            "flags conflict"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(envelope_from_json("[1]", &flags()).is_err());
        assert!(envelope_from_json(r#"{"payload": {}}"#, &flags()).is_err());
        assert!(envelope_from_json(r#"{"type": "no_such", "payload": {}}"#, &flags()).is_err());
    }
}
