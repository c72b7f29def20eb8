//! `imagefleet outbox retry`: releases quarantined rows (all of them, or the ones
//! named by `seq`) with a clean count of attempts, and wakes the relay. All or
//! nothing: naming a row that is not quarantined releases none.

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use db::DEFAULT_DATABASE_URL;
use outbox::quarantine::{Release, release};

/// Arguments of `imagefleet outbox retry`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["all", "seqs"])))]
pub struct RetryArgs {
    /// Postgres URL (the fleet's database).
    #[arg(long, env = "IMAGEFLEET_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Release every quarantined row.
    #[arg(long)]
    pub all: bool,
    /// The rows to release, by `seq` (as `imagefleet outbox` prints them).
    #[arg(value_name = "SEQ")]
    pub seqs: Vec<i64>,
}

impl RetryArgs {
    /// Which rows the arguments name.
    pub fn release(&self) -> Release {
        if self.all {
            Release::All
        } else {
            Release::Seqs(self.seqs.clone())
        }
    }
}

/// Releases `which`; returns the released `seq`s.
pub async fn retry(database_url: &str, which: &Release) -> anyhow::Result<Vec<i64>> {
    let mut conn = db::connect(database_url)
        .await
        .context("connecting to Postgres")?;
    Ok(release(&mut conn, which).await?)
}
