//! Where a lone worker's operations port listens. Unset, `IMAGEFLEET_METRICS_BIND`
//! means the first free port of 127.0.0.1 from 9464 (Prometheus' exporter port) to 9563,
//! so several `workers run` on one host start without settings, each on a port of its
//! own (the log line `metrics and health endpoints listening` names it). Set, it is the
//! one address to listen on, and a taken address is an error that says so. The
//! worker's sessions carry the port in their name, so `imagefleet status` shows it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

/// The first port tried when no address is set.
pub const FIRST_DEFAULT_PORT: u16 = 9464;
/// The ports tried after it, one per worker of a host.
pub const DEFAULT_PORTS: u16 = 100;

/// How the operations port is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsBind {
    /// This address (`IMAGEFLEET_METRICS_BIND`); taken is an error.
    Exactly(SocketAddr),
    /// The first free port of loopback from [`FIRST_DEFAULT_PORT`].
    FirstFree,
}

impl OpsBind {
    /// The setting's meaning: an address when one is given, else the first free port.
    pub fn from_setting(address: Option<SocketAddr>) -> Self {
        address.map_or(Self::FirstFree, Self::Exactly)
    }

    /// How the port was chosen, for the log line.
    pub fn describe(self) -> String {
        match self {
            Self::Exactly(_) => "IMAGEFLEET_METRICS_BIND".to_owned(),
            Self::FirstFree => format!(
                "the first free port from {}",
                SocketAddr::new(LOOPBACK, FIRST_DEFAULT_PORT)
            ),
        }
    }
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Why no operations port could be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The address the operator set cannot be bound (taken, or not this host's).
    #[error(
        "the operations port {address} set by IMAGEFLEET_METRICS_BIND cannot be bound: {error}; \
         set a free address, or leave IMAGEFLEET_METRICS_BIND unset to take the first free port \
         from 127.0.0.1:9464"
    )]
    Explicit {
        /// The address set.
        address: SocketAddr,
        /// What the system said (in the message, so not also a source).
        error: std::io::Error,
    },
    /// Every default port is taken.
    #[error(
        "no free operations port on 127.0.0.1 from {first} to {last}: set IMAGEFLEET_METRICS_BIND"
    )]
    NoneFree {
        /// The first port tried.
        first: u16,
        /// The last port tried.
        last: u16,
    },
    /// A default port failed for another reason than being taken.
    #[error("the operations port {address} cannot be bound: {error}")]
    Default {
        /// The address tried.
        address: SocketAddr,
        /// What the system said (in the message, so not also a source).
        error: std::io::Error,
    },
}

/// The worker's database URL with its sessions named after the worker and its
/// operations address, which `imagefleet status` lists. An `application_name` the
/// operator set in the URL names the worker instead of `worker`.
pub fn named_sessions_url(
    database_url: &str,
    worker: &str,
    ops_address: SocketAddr,
) -> Result<String, db::DbError> {
    let configured = db::url::query_param(database_url, "application_name")?;
    let worker = configured.as_deref().unwrap_or(worker);
    let name = db::worker_sessions::session_name(worker, ops_address);
    db::url::with_params(database_url, &[("application_name", name)])
}

/// Binds the operations port as `bind` says.
pub async fn bind(bind: OpsBind) -> Result<TcpListener, BindError> {
    match bind {
        OpsBind::Exactly(address) => TcpListener::bind(address)
            .await
            .map_err(|error| BindError::Explicit { address, error }),
        OpsBind::FirstFree => {
            let last = FIRST_DEFAULT_PORT + (DEFAULT_PORTS - 1);
            for port in FIRST_DEFAULT_PORT..=last {
                let address = SocketAddr::new(LOOPBACK, port);
                match TcpListener::bind(address).await {
                    Ok(listener) => return Ok(listener),
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                    Err(error) => return Err(BindError::Default { address, error }),
                }
            }
            Err(BindError::NoneFree {
                first: FIRST_DEFAULT_PORT,
                last,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_named_after_the_worker_or_the_operators_name_and_the_port() {
        let ops = SocketAddr::new(LOOPBACK, 9465);
        let url = |base| named_sessions_url(base, "imagefleet-worker-7", ops).expect("a URL");
        let named = |base| db::url::query_param(&url(base), "application_name").expect("parsed");
        assert_eq!(
            named("postgres://h/db").as_deref(),
            Some("imagefleet-worker-7@127.0.0.1:9465")
        );
        assert_eq!(
            named("postgres://h/db?application_name=site-a-worker").as_deref(),
            Some("site-a-worker@127.0.0.1:9465")
        );
    }
}
