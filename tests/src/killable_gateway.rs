//! A second gateway beside a [`TestApp`]'s, with a store and connections of its own
//! (a store configured otherwise, such as a shorter S3 retry), on a runtime the test
//! picks. Run on a runtime the test owns, shutting that runtime down kills it mid-request
//! as `kill -9` would (no cleanup code runs, every connection it held just closes),
//! while the test's own app, database and broker stay up to check what the crash left.

use std::sync::Arc;
use std::time::Duration;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use bus::client::CommandClient;
use fetch::{ImportFilter, SafeFetcher};

use crate::TestApp;

impl TestApp {
    /// Serves a second gateway on `listener`, on the test's database and topology and
    /// `stores`, running on `runtime` with a pool and a broker connection of its own
    /// (opened there): shutting `runtime` down kills it as a crash kills a process,
    /// every task and connection of it gone at once, this app's left alone.
    pub fn serve_gateway_on(
        &self,
        runtime: &tokio::runtime::Handle,
        listener: std::net::TcpListener,
        stores: store::Stores,
    ) {
        let database_url = self.db.url().to_owned();
        let amqp_url = self.bus.url().to_owned();
        let topology = self.bus.topology().clone();
        let notifications = self.bus.notifications();
        runtime.spawn(async move {
            let reads = db::build_pool(&database_url, db::PoolOptions::default())
                .expect("the second gateway's pool");
            let commands = CommandClient::connect(&amqp_url, topology)
                .await
                .expect("the second gateway's command client");
            let state = AppState {
                reads,
                commands,
                identity: Arc::new(Identity {
                    mode: AuthMode::Headers,
                    default_actor: None,
                }),
                settings: Arc::new(Settings::default()),
                stores,
                fetcher: SafeFetcher::new(
                    ImportFilter::default(),
                    1 << 40,
                    Duration::from_secs(60),
                    5,
                ),
                send_notices: Some(Arc::new(api_gateway::send_notice::SendNotifier::new(
                    &amqp_url,
                    notifications,
                ))),
            };
            listener
                .set_nonblocking(true)
                .expect("a non-blocking listener");
            let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
            axum::serve(listener, api_gateway::app(state)).await
        });
    }
}
