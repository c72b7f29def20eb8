//! Parsing a binary's flags in a test as its binary would, but without the process
//! environment: clap reads each argument's `IMAGEFLEET_*` variable, and an operator's
//! shell that sets some must not change what a test starts or checks.

use clap::{CommandFactory, FromArgMatches};

/// Parses `argv` (program name first) as `T` with every argument's environment
/// variable removed, subcommands included.
pub fn parse_without_env<'a, T: CommandFactory + FromArgMatches>(
    argv: impl IntoIterator<Item = &'a str>,
) -> Result<T, clap::Error> {
    let command = without_env(T::command());
    T::from_arg_matches(&command.try_get_matches_from(argv)?)
}

fn without_env(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| arg.env(None::<&str>))
        .mut_subcommands(without_env)
}
