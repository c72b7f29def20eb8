//! `imagefleet status` output: a table for people (the default) and one JSON object for
//! scripts (`--json`). Both carry the same facts and the same verdict.

use std::fmt::Write as _;

use serde_json::{Value, json};

use db::leader::LockHolder;

use super::report::{DatabaseStatus, Leader, OutboxStatus, StatusReport};

/// The human-readable report.
pub fn table(report: &StatusReport) -> String {
    let mut out = String::new();
    match &report.queues {
        Ok(queues) => {
            let width = queues
                .iter()
                .map(|q| q.name.len())
                .max()
                .unwrap_or(5)
                .max(5);
            let _ = writeln!(
                out,
                "{:width$}  {:11}  {:>8}  {:>9}",
                "QUEUE", "KIND", "MESSAGES", "CONSUMERS"
            );
            for queue in queues {
                let (messages, consumers) = match queue.counts {
                    Some(c) => (c.messages.to_string(), c.consumers.to_string()),
                    None => ("missing".to_owned(), "-".to_owned()),
                };
                let _ = writeln!(
                    out,
                    "{:width$}  {:11}  {messages:>8}  {consumers:>9}",
                    queue.name,
                    queue.kind.name()
                );
            }
        }
        Err(error) => {
            let _ = writeln!(out, "RABBITMQ    unreachable: {error}");
        }
    }
    out.push('\n');
    match &report.database {
        Ok(database) => database_lines(report, database, &mut out),
        Err(error) => {
            let _ = writeln!(out, "POSTGRES    unreachable: {error}");
        }
    }
    let attention = report.attention();
    if !attention.is_empty() {
        out.push_str("\nattention:\n");
        for line in &attention {
            let _ = writeln!(out, "  - {line}");
        }
    }
    let _ = writeln!(out, "\nstatus: {}", report.verdict());
    out
}

fn database_lines(report: &StatusReport, database: &DatabaseStatus, out: &mut String) {
    let limit = report.max_outbox_lag.as_secs_f64();
    let outbox = match &database.outbox {
        Ok(OutboxStatus {
            unpublished,
            oldest_age: Some(age),
            quarantined,
        }) => format!(
            "{unpublished} unpublished, oldest {:.1} s old (limit {limit} s), \
             {quarantined} quarantined",
            age.as_secs_f64()
        ),
        Ok(OutboxStatus {
            unpublished,
            quarantined,
            ..
        }) => format!("{unpublished} unpublished, {quarantined} quarantined"),
        Err(error) => format!("unreadable: {error}"),
    };
    let _ = writeln!(out, "OUTBOX      {outbox}");
    match &database.leaders {
        Ok(leaders) => {
            for (n, leader) in leaders.iter().enumerate() {
                let label = if n == 0 { "LEADERS" } else { "" };
                let _ = writeln!(
                    out,
                    "{label:10}  {:12}  {}",
                    leader.role.name(),
                    holder_text(leader)
                );
            }
        }
        Err(error) => {
            let _ = writeln!(out, "LEADERS     unreadable: {error}");
        }
    }
    worker_lines(database, out);
    let migrations = match &database.pending_migrations {
        Ok(pending) if pending.is_empty() => "current".to_owned(),
        Ok(pending) => format!("{} pending: {}", pending.len(), pending.join(", ")),
        Err(error) => format!("unreadable: {error}"),
    };
    let _ = writeln!(out, "MIGRATIONS  {migrations}");
}

/// One line per worker with its operations port, as its sessions name it.
fn worker_lines(database: &DatabaseStatus, out: &mut String) {
    match &database.workers {
        Ok(workers) if workers.is_empty() => {
            let _ = writeln!(out, "WORKERS     none connected");
        }
        Ok(workers) => {
            for (n, worker) in workers.iter().enumerate() {
                let label = if n == 0 { "WORKERS" } else { "" };
                let from = worker
                    .client_addr
                    .as_deref()
                    .map(|addr| format!(" from {addr}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{label:10}  {}  ops http://{}  ({} sessions{from})",
                    worker.worker,
                    worker.reachable_ops_address(),
                    worker.sessions
                );
            }
        }
        Err(error) => {
            let _ = writeln!(out, "WORKERS     unreadable: {error}");
        }
    }
}

fn holder_text(leader: &Leader) -> String {
    let Some(holder) = &leader.holder else {
        return "none".to_owned();
    };
    let mut text = format!("pid {}", holder.pid);
    if !holder.application_name.is_empty() {
        let _ = write!(text, ", {}", holder.application_name);
    }
    if let Some(addr) = &holder.client_addr {
        let _ = write!(text, ", from {addr}");
    }
    if let Some(start) = holder.backend_start {
        let _ = write!(
            text,
            ", session since {}",
            start.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    text
}

/// The JSON report: `{"status", "exit_code", "attention": [..], "rabbitmq": {..},
/// "postgres": {..}}`; an unreachable side is `{"reachable": false, "error": ".."}`.
pub fn json(report: &StatusReport) -> Value {
    let rabbitmq = match &report.queues {
        Ok(queues) => json!({
            "reachable": true,
            "queues": queues.iter().map(|q| json!({
                "name": q.name,
                "kind": q.kind.name(),
                "exists": q.counts.is_some(),
                "messages": q.counts.map(|c| c.messages),
                "consumers": q.counts.map(|c| c.consumers),
            })).collect::<Vec<_>>(),
        }),
        Err(error) => json!({"reachable": false, "error": error}),
    };
    let postgres = match &report.database {
        Ok(database) => database_json(report, database),
        Err(error) => json!({"reachable": false, "error": error}),
    };
    json!({
        "status": report.verdict(),
        "exit_code": report.exit_code(),
        "attention": report.attention(),
        "rabbitmq": rabbitmq,
        "postgres": postgres,
    })
}

fn database_json(report: &StatusReport, database: &DatabaseStatus) -> Value {
    let outbox = match &database.outbox {
        Ok(outbox) => json!({
            "unpublished": outbox.unpublished,
            "oldest_age_seconds": outbox.oldest_age.map(|a| a.as_secs_f64()),
            "max_lag_seconds": report.max_outbox_lag.as_secs_f64(),
            "quarantined": outbox.quarantined,
        }),
        Err(error) => json!({"error": error}),
    };
    let leaders = match &database.leaders {
        Ok(leaders) => Value::Object(
            leaders
                .iter()
                .map(|l| {
                    let key = l.role.name().replace(' ', "_");
                    (key, l.holder.as_ref().map_or(Value::Null, holder_json))
                })
                .collect(),
        ),
        Err(error) => json!({"error": error}),
    };
    let migrations = match &database.pending_migrations {
        Ok(pending) => json!({"current": pending.is_empty(), "pending": pending}),
        Err(error) => json!({"error": error}),
    };
    let workers = match &database.workers {
        Ok(workers) => Value::Array(
            workers
                .iter()
                .map(|w| {
                    json!({
                        "name": w.worker,
                        "ops_address": w.reachable_ops_address(),
                        "client_addr": w.client_addr,
                        "sessions": w.sessions,
                        "since": w.since.map(|t| t.to_rfc3339()),
                    })
                })
                .collect(),
        ),
        Err(error) => json!({"error": error}),
    };
    json!({
        "reachable": true,
        "outbox": outbox,
        "leaders": leaders,
        "workers": workers,
        "migrations": migrations,
    })
}

fn holder_json(holder: &LockHolder) -> Value {
    json!({
        "pid": holder.pid,
        "application_name": holder.application_name,
        "client_addr": holder.client_addr,
        "backend_start": holder.backend_start.map(|t| t.to_rfc3339()),
    })
}
