//! `FaultProxy`: a TCP proxy on loopback placed between the fleet and Postgres or
//! RabbitMQ, whose behaviour a test flips at run time. It passes bytes through, adds
//! latency to every chunk, blackholes (keeps accepting and reading, never forwards or
//! answers: a peer that went silent without closing, as after a partition or a lost
//! host), plays a server that is down (closes every connection), or resets every open
//! connection. The fault applies to connections already
//! open as well as to new ones, since the faults real fleets meet strike established
//! sessions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the proxy does with the bytes of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways as they come.
    Pass,
    /// Forward both ways, each chunk after this delay.
    Latency(Duration),
    /// Read from both sides and drop it; never answer, never pass a close on.
    Blackhole,
    /// A stopped server: new connections are closed as soon as accepted, open ones at
    /// their next bytes (at once with [`FaultProxy::reset`]).
    Down,
}

/// A proxy from a port of 127.0.0.1 to `upstream`; stops (closing every connection)
/// when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    fault: watch::Sender<Fault>,
    /// Cancelled and replaced by [`FaultProxy::reset`]: every connection opened under it
    /// watches it.
    generation: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// Starts a passing proxy to `upstream` on a free port of 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::Pass);
        let generation = Arc::new(Mutex::new(CancellationToken::new()));
        let stop = CancellationToken::new();
        tokio::spawn(accept(
            listener,
            upstream,
            fault.subscribe(),
            Arc::clone(&generation),
            stop.clone(),
        ));
        Ok(Self {
            address,
            fault,
            generation,
            stop,
        })
    }

    /// Starts a proxy to the host and port of `url` (`postgres://` or `amqp://`).
    pub async fn for_url(url: &str) -> anyhow::Result<Self> {
        Self::start(upstream_of(url)?).await
    }

    /// The proxy's own address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `url` with its host and port replaced by the proxy's, so a client of `url`
    /// reaches the same server through the proxy.
    pub fn url_through(&self, url: &str) -> anyhow::Result<String> {
        let mut parsed = url::Url::parse(url)?;
        parsed
            .set_ip_host(self.address.ip())
            .map_err(|()| anyhow::anyhow!("{url} cannot have a host"))?;
        parsed
            .set_port(Some(self.address.port()))
            .map_err(|()| anyhow::anyhow!("{url} cannot have a port"))?;
        Ok(parsed.into())
    }

    /// Applies `fault` from now on, to open connections and new ones.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Closes every open connection abruptly (RST where the OS sends one); new ones are
    /// accepted under the current fault.
    pub fn reset(&self) {
        let mut generation = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        generation.cancel();
        *generation = CancellationToken::new();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The socket address `url` names (default ports: Postgres 5432, AMQP 5672).
fn upstream_of(url: &str) -> anyhow::Result<SocketAddr> {
    let parsed = url::Url::parse(url)?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("{url} names no host"))?;
    let port = parsed.port().unwrap_or(match parsed.scheme() {
        "amqp" => 5672,
        _ => 5432,
    });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host == "localhost" {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        host.parse()?
    };
    Ok(SocketAddr::new(ip, port))
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Receiver<Fault>,
    generation: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else { continue };
        if *fault.borrow() == Fault::Down {
            let _ = client.set_zero_linger();
            continue;
        }
        let reset = generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .child_token();
        let (fault, stop) = (fault.clone(), stop.clone());
        tokio::spawn(async move {
            // A refused upstream is passed on as a closed connection.
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            // A reset closes with RST, not FIN: the peer sees a crash, not a goodbye.
            for socket in [&client, &server] {
                let _ = socket.set_zero_linger();
            }
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let ended = CancellationToken::new();
            let pipes = async {
                tokio::join!(
                    pipe(client_read, server_write, fault.clone(), ended.clone()),
                    pipe(server_read, client_write, fault, ended.clone()),
                )
            };
            tokio::select! {
                _ = pipes => {}
                () = reset.cancelled() => {}
                () = stop.cancelled() => {}
            }
            // Dropping both halves of both sockets closes them (with a reset, see above).
        });
    }
}

/// Copies `from` to `to` under the current fault until either side ends.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    ended: CancellationToken,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            () = ended.cancelled() => return,
            read = from.read(&mut buffer) => read,
        };
        let n = match read {
            Ok(n) if n > 0 => n,
            // A partition hides a peer's close as it hides its bytes: the other side
            // learns of it only by its own timeouts, or once the proxy passes again.
            _ if *fault.borrow() == Fault::Blackhole => {
                tokio::select! {
                    () = ended.cancelled() => return,
                    _ = fault.wait_for(|now| *now != Fault::Blackhole) => break,
                }
            }
            _ => break,
        };
        let current = *fault.borrow_and_update();
        match current {
            Fault::Pass => {}
            Fault::Latency(delay) => tokio::time::sleep(delay).await,
            Fault::Blackhole => continue,
            Fault::Down => break,
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    ended.cancel();
}
