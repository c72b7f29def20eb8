//! `TestVhost`: a RabbitMQ vhost of one test or benchmark, made and removed with
//! `rabbitmqctl`, for a service that declares its own default topology inside (as a
//! fresh site does) without meeting anybody else's queues.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::amqp_url;

/// A vhost that exists until this value is dropped; guest may use it.
pub struct TestVhost {
    name: String,
}

impl TestVhost {
    /// Creates the vhost `name` and gives guest every permission in it.
    pub fn new(name: &str) -> anyhow::Result<Self> {
        rabbitmqctl(&["add_vhost", name])?;
        let vhost = Self {
            name: name.to_owned(),
        };
        rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])?;
        Ok(vhost)
    }

    /// The tests' broker URL with this vhost in place of the default one.
    pub fn url(&self) -> String {
        let base = amqp_url();
        let root = base
            .rsplit_once('/')
            .map_or(base.as_str(), |(root, _)| root);
        format!("{root}/{}", self.name)
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        // A warning, not a panic: this may run while a failed test is unwinding.
        if let Err(error) = rabbitmqctl(&["delete_vhost", &self.name]) {
            eprintln!("could not delete vhost {}: {error:#}", self.name);
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
        bail!("rabbitmqctl {args:?} failed");
    }
    Ok(())
}
