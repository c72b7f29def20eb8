//! Running the gateway: connect to Postgres and RabbitMQ, bind, serve until shutdown
//! (axum's graceful shutdown lets requests in flight finish).

use std::sync::Arc;

use bus::client::CommandClient;
use db::{PoolOptions, build_pool};
use tokio_util::sync::CancellationToken;

use crate::config::GatewayArgs;
use crate::state::AppState;

/// Why the gateway could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The read pool could not be built.
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// RabbitMQ could not be reached.
    #[error(transparent)]
    Broker(#[from] bus::client::ClientError),
    /// The image store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The address could not be bound, or serving failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the gateway until `shutdown` is cancelled.
pub async fn serve(args: GatewayArgs, shutdown: CancellationToken) -> Result<(), ServeError> {
    let identity = args.identity()?;
    let reads = build_pool(
        &args.database.session_url()?,
        PoolOptions {
            max_size: args.database.database_pool_size,
            ..PoolOptions::default()
        },
    )?;
    let commands = CommandClient::connect(&args.amqp.amqp_url, args.amqp.topology()).await?;
    let state = AppState {
        reads,
        commands,
        identity: Arc::new(identity),
        settings: Arc::new(args.settings()),
        stores: args.store.open()?,
        fetcher: args.import.fetcher(args.settings().image_size_cap),
        send_notices: args.notifications.to_config().map(|config| {
            Arc::new(crate::send_notice::SendNotifier::new(
                &args.amqp.amqp_url,
                config,
            ))
        }),
    };
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!(address = %args.bind, "gateway listening");
    // With the peer's address, for `image.send`'s `destination_ip`.
    let app = crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
