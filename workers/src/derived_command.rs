//! Commands the workers send on their own account (the janitor's sweeps, the jobs'
//! steps) under ids derived from what they do rather than drawn at random: a command
//! sent again (a job that runs again, two janitors that briefly overlap) carries the
//! same id, so the repository applies it once and answers the repeat from its record.
//! Each sender derives in a namespace of its own, so two senders never share an id.

use domain::{Actor, Command, CommandId};
use uuid::Uuid;
use wire::CommandEnvelope;

/// `command` from `actor`, under the id derived from `name` in `namespace` (`name`
/// says what is done to what, e.g. the task and its step), correlated as
/// `correlation_id`.
pub fn derived_command(
    namespace: &Uuid,
    name: &str,
    actor: Actor,
    command: Command,
    correlation_id: impl Into<String>,
) -> CommandEnvelope {
    let mut envelope = CommandEnvelope::new(actor, command).with_correlation_id(correlation_id);
    envelope.command_id = CommandId::from_uuid(Uuid::new_v5(namespace, name.as_bytes()));
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::TaskId;
    use domain::command::TaskRef;

    const ONE: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    fn expire() -> Command {
        Command::ExpireTask(TaskRef {
            task_id: TaskId::from_uuid(Uuid::from_u128(7)),
        })
    }

    fn id(namespace: &Uuid, name: &str) -> CommandId {
        derived_command(namespace, name, Actor::service(), expire(), "test").command_id
    }

    #[test]
    fn derived_command_ids_repeat_for_the_same_name_and_namespace() {
        assert_eq!(id(&ONE, "expire/7/1"), id(&ONE, "expire/7/1"));
    }

    #[test]
    fn derived_command_ids_differ_by_name_and_by_namespace() {
        assert_ne!(id(&ONE, "expire/7/1"), id(&ONE, "expire/7/2"));
        assert_ne!(id(&ONE, "expire/7/1"), id(&OTHER, "expire/7/1"));
    }

    #[test]
    fn derived_command_carries_the_correlation_id() {
        let envelope = derived_command(&ONE, "x", Actor::service(), expire(), "janitor");
        assert_eq!(envelope.correlation_id.as_deref(), Some("janitor"));
    }
}
