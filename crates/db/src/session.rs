//! The timeouts every Postgres session of the fleet runs with, carried in the URL so
//! that every way of connecting (the pools, the leader sessions, a job's claim) gets
//! them: server-side settings in `options` (`statement_timeout`, `lock_timeout`,
//! `idle_in_transaction_session_timeout`, the server's TCP keepalives and user timeout)
//! and tokio-postgres' client-side ones (`connect_timeout`, `keepalives*`,
//! `tcp_user_timeout`). A setting the URL already names is left as the URL says.
//!
//! Why both sides: a peer that vanished (host lost, cable cut) is noticed by the side
//! that keeps sending, through keepalives and the user timeout. A peer that is still
//! there but answers nothing (a blackholed proxy, whose kernel ACKs everything) is
//! noticed by neither: only a time limit on each wait sees it. Hence the statement
//! bounds on the client and, on leader sessions, `idle_session_timeout` on the server,
//! so a leader that went silent loses its session and its advisory lock (see
//! [`SessionSettings::leader_url`]).

use std::time::Duration;

use super::DbError;
use super::url::{query_param, with_params};

/// The timeouts of one process's Postgres sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Longest one statement may run on the server.
    pub statement_timeout: Duration,
    /// Longest a statement waits for a row or table lock: a row held by another
    /// session costs this long, then the command fails retryable.
    pub lock_timeout: Duration,
    /// Longest a session may sit idle inside a transaction before the server ends it;
    /// on leader sessions also the longest it may sit idle at all
    /// (`idle_session_timeout`), which they keep short of with a heartbeat.
    pub idle_timeout: Duration,
    /// Longest opening a connection may take (whole seconds, at least one).
    pub connect_timeout: Duration,
    /// How soon a connection whose peer stopped acknowledging is given up, on both
    /// ends: the TCP user timeout, with keepalives probing an idle connection within it
    /// (whole seconds, at least three).
    pub tcp_timeout: Duration,
}

impl Default for SessionSettings {
    /// Bounds for a command path: a statement gets 5 s, a lock 2 s, an idle
    /// transaction 10 s, a connect 5 s, an unanswering peer 10 s.
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            tcp_timeout: Duration::from_secs(10),
        }
    }
}

impl SessionSettings {
    /// `url` with these settings added wherever it does not name them already.
    pub fn url(&self, url: &str) -> Result<String, DbError> {
        self.build(url, false)
    }

    /// Like [`SessionSettings::url`], for a session holding a leader's advisory lock:
    /// the server also ends it once it has been idle for [`SessionSettings::idle_timeout`],
    /// so a leader whose host or network went silent releases its lock then, even
    /// where TCP cannot tell (a proxy in between still acknowledges). The holder keeps
    /// the session busy every [`SessionSettings::heartbeat`].
    pub fn leader_url(&self, url: &str) -> Result<String, DbError> {
        self.build(url, true)
    }

    /// How often a leader session must run a statement to stay clear of its idle
    /// timeout: a third of it, so one late heartbeat does not cost the lock.
    pub fn heartbeat(&self) -> Duration {
        self.idle_timeout / 3
    }

    /// How long a client waits on one transaction before it takes the connection for
    /// dead: a statement may run `statement_timeout`, and a server that hears nothing
    /// for `idle_timeout` inside a transaction ends it; no answer after both means the
    /// answer is not coming.
    pub fn transaction_bound(&self) -> Duration {
        self.statement_timeout + self.idle_timeout
    }

    /// The settings `url` names, defaults for the rest: what a session opened with
    /// [`SessionSettings::url`] of these runs with.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let mut settings = Self::default();
        let options = query_param(url, "options")?.unwrap_or_default();
        // Zero switches a Postgres timeout off: the default then stands for it.
        let server = |name: &str| {
            server_setting(&options, name)
                .and_then(parse_pg_duration)
                .filter(|d| !d.is_zero())
        };
        if let Some(d) = server("statement_timeout") {
            settings.statement_timeout = d;
        }
        if let Some(d) = server("lock_timeout") {
            settings.lock_timeout = d;
        }
        if let Some(d) = server("idle_in_transaction_session_timeout") {
            settings.idle_timeout = d;
        }
        // A leader's heartbeat must beat the shorter of the two idle limits.
        if let Some(d) = server("idle_session_timeout") {
            settings.idle_timeout = settings.idle_timeout.min(d);
        }
        let seconds = |name: &str| -> Result<Option<Duration>, DbError> {
            Ok(query_param(url, name)?
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs))
        };
        if let Some(d) = seconds("connect_timeout")? {
            settings.connect_timeout = d;
        }
        if let Some(d) = seconds("tcp_user_timeout")? {
            settings.tcp_timeout = d;
        }
        Ok(settings)
    }

    fn build(&self, url: &str, leader: bool) -> Result<String, DbError> {
        let tcp = self.tcp_timeout.as_secs().max(3);
        // Three unanswered probes fit in the user timeout: the first after half of it.
        let (idle, interval) = (tcp / 2, (tcp / 6).max(1));
        let mut server = vec![
            ("statement_timeout", millis(self.statement_timeout)),
            ("lock_timeout", millis(self.lock_timeout)),
            (
                "idle_in_transaction_session_timeout",
                millis(self.idle_timeout),
            ),
            ("tcp_keepalives_idle", idle.to_string()),
            ("tcp_keepalives_interval", interval.to_string()),
            ("tcp_keepalives_count", "3".to_owned()),
            ("tcp_user_timeout", (tcp * 1000).to_string()),
        ];
        if leader {
            server.push(("idle_session_timeout", millis(self.idle_timeout)));
        }
        let given = query_param(url, "options")?.unwrap_or_default();
        let mut options: Vec<String> = server
            .into_iter()
            .filter(|(name, _)| server_setting(&given, name).is_none())
            .map(|(name, value)| format!("-c {name}={value}"))
            .collect();
        // The URL's own options come last: where both name a setting, Postgres takes
        // the later one, so the operator's wins.
        if !given.trim().is_empty() {
            options.push(given);
        }
        let client = [
            ("connect_timeout", self.connect_timeout.as_secs().max(1)),
            ("keepalives", 1),
            ("keepalives_idle", idle),
            ("keepalives_interval", interval),
            ("keepalives_retries", 3),
            ("tcp_user_timeout", tcp),
        ];
        let mut params: Vec<(&str, String)> = Vec::new();
        for (name, value) in client {
            if query_param(url, name)?.is_none() {
                params.push((name, value.to_string()));
            }
        }
        params.push(("options", options.join(" ")));
        with_params(url, &params)
    }
}

/// Whole milliseconds, at least one (0 would switch a Postgres timeout off).
fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

/// The value `options` gives `name` (`-c name=value`, `-cname=value` or
/// `--name=value`), if any.
fn server_setting<'a>(options: &'a str, name: &str) -> Option<&'a str> {
    let mut tokens = options.split_whitespace();
    let mut found = None;
    while let Some(token) = tokens.next() {
        let assignment = match token {
            "-c" => tokens.next().unwrap_or_default(),
            other => other
                .strip_prefix("--")
                .or_else(|| other.strip_prefix("-c"))
                .unwrap_or_default(),
        };
        if let Some((key, value)) = assignment.split_once('=')
            && key.replace('-', "_") == name
        {
            found = Some(value);
        }
    }
    found
}

/// A Postgres time setting: bare milliseconds, or a number with `ms`, `s` or `min`.
fn parse_pg_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().ok()?;
    match unit.trim() {
        "" | "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "min" => Some(Duration::from_secs(number * 60)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_every_timeout_to_a_plain_url() -> Result<(), DbError> {
        let url = SessionSettings::default().url("postgres://u@h:5432/app")?;
        assert!(url.starts_with("postgres://u@h:5432/app?connect_timeout=5&keepalives=1"));
        assert!(url.contains("&tcp_user_timeout=10&"), "{url}");
        let options = query_param(&url, "options")?.unwrap_or_default();
        assert!(options.contains("-c statement_timeout=5000"), "{options}");
        assert!(options.contains("-c lock_timeout=2000"), "{options}");
        assert!(options.contains("-c idle_in_transaction_session_timeout=10000"));
        assert!(!options.contains("idle_session_timeout"), "{options}");
        Ok(())
    }

    #[test]
    fn the_urls_own_settings_win_and_read_back() -> Result<(), DbError> {
        let given = "postgres://h/app?connect_timeout=9&options=-c%20lock_timeout%3D500ms";
        let url = SessionSettings::default().leader_url(given)?;
        assert_eq!(url.matches("connect_timeout=").count(), 1, "{url}");
        let options = query_param(&url, "options")?.unwrap_or_default();
        assert!(!options.contains("lock_timeout=2000"), "{options}");
        assert!(options.ends_with("-c lock_timeout=500ms"), "{options}");
        assert!(
            options.contains("-c idle_session_timeout=10000"),
            "{options}"
        );
        let read = SessionSettings::from_url(&url)?;
        assert_eq!(read.lock_timeout, Duration::from_millis(500));
        assert_eq!(read.connect_timeout, Duration::from_secs(9));
        assert_eq!(read.idle_timeout, Duration::from_secs(10));
        // Applying again changes nothing: every setting is named now.
        assert_eq!(SessionSettings::default().leader_url(&url)?, url);
        Ok(())
    }

    #[test]
    fn reads_postgres_durations() {
        assert_eq!(parse_pg_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_pg_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(parse_pg_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_pg_duration("1h"), None);
    }
}
