//! `TestApp`'s stacks on stores other than the test's single local directory: given
//! stores (an S3 bucket, named stores) or named local stores made in the test's data
//! directory (multi-store mode).

use std::time::Duration;

use api_gateway::Settings;
use api_gateway::identity::AuthMode;
use domain::DomainConfig;
use fetch::ImportFilter;

use super::TestApp;
use crate::TestDb;

/// Picks a stack's stores once its database (and data directory) exists, with the
/// janitor's grace for multipart uploads.
pub(super) type StoreChoice = Box<dyn FnOnce(&TestDb) -> (store::Stores, Duration) + Send>;

/// Local stores have no multipart uploads for the janitor to abort.
const NO_MULTIPART_GRACE: Duration = Duration::from_secs(3600);

impl TestApp {
    /// A stack whose gateway and worker keep image data in `stores` (an S3 bucket, or
    /// several named stores), the worker's janitor aborting uploads older than
    /// `multipart_grace`.
    pub async fn start_on_stores(stores: store::Stores, multipart_grace: Duration) -> Self {
        let on_store: StoreChoice = Box::new(move |_| (stores, multipart_grace));
        Self::start_full(
            DomainConfig::default(),
            Settings::default(),
            AuthMode::Headers,
            None,
            ImportFilter::default(),
            None,
            Some(on_store),
        )
        .await
    }

    /// A stack on named local stores in the test's data directory (multi-store mode,
    /// Glance's `enabled_backends`), the first being the default.
    pub async fn start_multi_store(ids: &[&str]) -> Self {
        Self::start_multi_store_with(ids, &[], Settings::default()).await
    }

    /// [`TestApp::start_multi_store`] with `(id, text)` store descriptions and these
    /// gateway settings.
    pub async fn start_multi_store_with(
        ids: &[&str],
        descriptions: &[(&str, &str)],
        settings: Settings,
    ) -> Self {
        let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
        let descriptions: Vec<(String, String)> = descriptions
            .iter()
            .map(|(id, text)| ((*id).to_owned(), (*text).to_owned()))
            .collect();
        let on_store: StoreChoice = Box::new(move |db| {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut entries = db.named_stores(&ids).all().to_vec();
            for entry in &mut entries {
                entry.description = descriptions
                    .iter()
                    .find(|(id, _)| *id == entry.id)
                    .map(|(_, text)| text.clone());
            }
            (store::Stores::named(entries, 0), NO_MULTIPART_GRACE)
        });
        Self::start_full(
            DomainConfig::default(),
            settings,
            AuthMode::Headers,
            None,
            ImportFilter::default(),
            None,
            Some(on_store),
        )
        .await
    }
}
