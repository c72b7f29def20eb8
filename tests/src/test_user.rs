//! `TestUser`: a RabbitMQ user of one test, made with `rabbitmqctl` under a random name
//! and deleted when the value is dropped: a second producer whose identity (the
//! broker-validated `user_id`) the workers do not share.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// A user that exists until this value is dropped.
pub struct TestUser {
    name: String,
    password: String,
}

impl TestUser {
    /// Creates a user named `<prefix>_<random>` that may write to the exchanges whose
    /// names match `write` (a regular expression) in `vhost`, and do nothing else: a
    /// producer as a site would set one up.
    pub fn new(prefix: &str, vhost: &str, write: &str) -> anyhow::Result<Self> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let user = Self {
            name: format!("{prefix}_{suffix}"),
            password: uuid::Uuid::new_v4().simple().to_string(),
        };
        rabbitmqctl(&["add_user", &user.name, &user.password])?;
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            vhost,
            &user.name,
            "^$",
            write,
            "^$",
        ])?;
        Ok(user)
    }

    /// The user's name: the only `user_id` the broker lets it publish with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `url` (a broker URL with any credentials) logging in as this user instead.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{}@{host}", self.name, self.password)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // A warning, not a panic: this may run while a failed test is unwinding.
        if let Err(error) = rabbitmqctl(&["delete_user", &self.name]) {
            eprintln!("could not delete user {}: {error:#}", self.name);
        }
    }
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .context("running rabbitmqctl")?;
    if !status.success() {
        bail!("rabbitmqctl {} failed", args.first().copied().unwrap_or(""));
    }
    Ok(())
}
