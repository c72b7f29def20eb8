//! The deployment's stores by id (Glance's `enabled_backends`): one unnamed store by
//! default, or several named ones (`IMAGEFLEET_STORES`), one of them the default. An
//! image lists the stores holding its data; an image that lists none (written in
//! single-store mode, or before stores had names) is in the default store.

use std::sync::Arc;

use super::ImageStore;

/// What a store is, for `GET /v2/info/stores/detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// A local directory.
    File {
        /// The directory.
        dir: std::path::PathBuf,
    },
    /// An S3-compatible bucket.
    S3,
}

impl StoreKind {
    /// Glance's name of the store type (`file`, `s3`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StoreKind::File { .. } => "file",
            StoreKind::S3 => "s3",
        }
    }
}

/// One named store.
#[derive(Debug, Clone)]
pub struct NamedStore {
    /// Its id, as images and requests name it.
    pub id: String,
    /// The operator's description, shown by `GET /v2/info/stores`.
    pub description: Option<String>,
    /// What it is.
    pub kind: StoreKind,
    /// The store itself.
    pub store: ImageStore,
}

/// The configured stores: cheap to clone, shared by every request and job.
#[derive(Debug, Clone)]
pub struct Stores {
    entries: Arc<[NamedStore]>,
    /// Index of the default store in `entries`.
    default: usize,
    /// Whether stores were configured by name (multi-store mode).
    named: bool,
}

/// The id of the single store of a deployment that names none.
const SINGLE_STORE_ID: &str = "default";

impl Stores {
    /// One unnamed store (single-store mode: no `stores` on images, no store API).
    pub fn single(store: ImageStore, kind: StoreKind) -> Self {
        let entry = NamedStore {
            id: SINGLE_STORE_ID.to_owned(),
            description: None,
            kind,
            store,
        };
        Self {
            entries: Arc::from(vec![entry]),
            default: 0,
            named: false,
        }
    }

    /// Named stores, the one at `default` being the default (multi-store mode).
    ///
    /// # Panics
    /// Never for a `default` within `entries`; the configuration checks it first.
    pub fn named(entries: Vec<NamedStore>, default: usize) -> Self {
        assert!(default < entries.len(), "the default store is one of them");
        Self {
            entries: Arc::from(entries),
            default,
            named: true,
        }
    }

    /// Whether the stores have names (Glance's `enabled_backends` is set).
    pub fn is_multi(&self) -> bool {
        self.named
    }

    /// Every store, in configured order.
    pub fn all(&self) -> &[NamedStore] {
        &self.entries
    }

    /// The default store.
    pub fn default_store(&self) -> &NamedStore {
        &self.entries[self.default]
    }

    /// The store whose staging area holds `PUT /stage` data: the default one (Glance
    /// stages to a reserved store of its own, whatever the upload's target).
    pub fn staging(&self) -> &ImageStore {
        &self.default_store().store
    }

    /// The store with this id, in multi-store mode.
    pub fn get(&self, id: &str) -> Option<&NamedStore> {
        if !self.named {
            return None;
        }
        self.entries.iter().find(|s| s.id == id)
    }

    /// The ids of the named stores (empty in single-store mode), for the domain's
    /// checks of requested stores.
    pub fn ids(&self) -> Vec<String> {
        if !self.named {
            return Vec::new();
        }
        self.entries.iter().map(|s| s.id.clone()).collect()
    }

    /// The stores holding an image that lists `image_stores`, in its order: the default
    /// store when it lists none. A listed store no longer configured is skipped.
    pub fn holding<'a>(&'a self, image_stores: &'a [String]) -> Vec<&'a NamedStore> {
        if image_stores.is_empty() || !self.named {
            return vec![self.default_store()];
        }
        image_stores.iter().filter_map(|id| self.get(id)).collect()
    }

    /// The store with this id for a write, or the default store when none is named.
    /// Single-store mode has only the default.
    pub fn for_write(&self, id: Option<&str>) -> Option<&NamedStore> {
        match id {
            None => Some(self.default_store()),
            Some(id) => self.get(id),
        }
    }
}

impl Stores {
    /// Removes an image's blob in `area` from every store (idempotent): for data whose
    /// store is not recorded, such as a write cut off before it ended.
    pub async fn delete_everywhere(
        &self,
        area: super::Area,
        image_id: domain::ImageId,
    ) -> Result<(), super::StoreError> {
        for named in self.all() {
            named.store.delete(area, image_id).await?;
        }
        Ok(())
    }
}
