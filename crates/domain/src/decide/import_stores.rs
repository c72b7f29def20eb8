//! The stores of an import in multi-store mode: `import_store_done`, which the import
//! job sends after each store (written: off both lists; failed: onto the failed one),
//! and the two comma-separated lists every import keeps on
//! the image as Glance does (`os_glance_importing_to_stores`, the stores still to write;
//! `os_glance_failed_import`, the stores that failed), each sorted and "" when empty.
//! Single-store mode keeps neither (Glance writes them empty there; nothing reads them).

use super::Decision;
use super::common::{image_event, moved, service_image, step};
use crate::command::{ImportMethod, ImportStoreDone};
use crate::context::{Context, DomainConfig};
use crate::event::ImageEventKind;
use crate::ids::TaskId;
use crate::image::{FAILED_IMPORT_PROPERTY, IMPORTING_TO_STORES_PROPERTY, Image};
use crate::rejection::Rejection;
use crate::status::ImageStatus;
use crate::stores;
use crate::task::Task;
use crate::transitions::ImageAction;
use std::collections::BTreeSet;

pub(super) fn import_store_done(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &ImportStoreDone,
    ctx: &Context,
) -> Decision {
    let (image, _, to) = running_import(image, task, c.task_id, ImageAction::ImportStoreDone, ctx)?;
    stores::known(&c.store, &ctx.config)?;
    let mut next = moved(image, to, ctx);
    let store = std::slice::from_ref(&c.store);
    merge(
        &mut next,
        IMPORTING_TO_STORES_PROPERTY,
        store,
        Merge::Remove,
    );
    // A store written by a rerun of the job is no longer failed, whatever the run
    // before it found.
    let failed = if c.succeeded {
        Merge::Remove
    } else {
        Merge::Add
    };
    merge(&mut next, FAILED_IMPORT_PROPERTY, store, failed);
    Ok(vec![image_event(ImageEventKind::Updated, image, next)])
}

/// The image and the import task it is locked by, for the service's steps of an import,
/// and where `action` takes the image.
pub(super) fn running_import<'a>(
    image: Option<&'a Image>,
    task: Option<&'a Task>,
    task_id: TaskId,
    action: ImageAction,
    ctx: &Context,
) -> Result<(&'a Image, &'a Task, Option<ImageStatus>), Rejection> {
    let image = service_image(image, ctx)?;
    // The status first: a deleted image is gone (404) whatever its properties say.
    let to = step(image, action)?;
    let task =
        task.ok_or_else(|| Rejection::not_found(format!("No task found with id {task_id}.")))?;
    if image.import_task() != Some(task.id) {
        return Err(Rejection::conflict(format!(
            "Task {} is not the running import of image {}.",
            task.id, image.id
        )));
    }
    Ok((image, task, to))
}

/// Whether an import task copies an active image's data (copy-image), from the method
/// its input records.
pub(super) fn is_copy(task: &Task) -> bool {
    serde_json::from_value::<ImportMethod>(task.input["import_req"]["method"].clone())
        .is_ok_and(|method| method == ImportMethod::CopyImage)
}

/// An import begins: its stores are being written to, and no longer failed (Glance's
/// `add_importing_stores` and `remove_failed_stores`).
pub(super) fn begin(next: &mut Image, targets: &[String], config: &DomainConfig) {
    if config.stores.is_empty() {
        return;
    }
    merge(next, IMPORTING_TO_STORES_PROPERTY, targets, Merge::Add);
    merge(next, FAILED_IMPORT_PROPERTY, targets, Merge::Remove);
}

/// An import ended, however: no store is being written to any more.
pub(super) fn end(next: &mut Image, config: &DomainConfig) {
    if config.stores.is_empty() {
        return;
    }
    next.properties
        .insert(IMPORTING_TO_STORES_PROPERTY.to_owned(), String::new());
}

enum Merge {
    Add,
    Remove,
}

/// Adds `stores` to, or removes them from, the list in property `key` (Glance's
/// `merge_store_list`: sorted, "" when empty, the property set either way).
fn merge(image: &mut Image, key: &str, changed: &[String], how: Merge) {
    let mut list: BTreeSet<String> = stores::split(image.properties.get(key))
        .into_iter()
        .collect();
    for store in changed {
        match how {
            Merge::Add => list.insert(store.clone()),
            Merge::Remove => list.remove(store),
        };
    }
    let list: Vec<String> = list.into_iter().collect();
    image.properties.insert(key.to_owned(), stores::join(&list));
}
