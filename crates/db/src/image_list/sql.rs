//! The one statement behind `GET /v2/images`: a CTE for the marker row (checked for
//! visibility as a GET would be), a CTE for the page (visibility of SPEC 7, the filters,
//! the keyset condition after the marker, `LIMIT limit + 1`), and a final row holding
//! whether the marker was found and the page as a JSON array of image documents.
//! Sort keys come from the allow-list in `vocab`; every user value is a bind.

use super::query::{ImageFilters, ImageListQuery};
use super::vocab::{ImageSortKey, Known, VisibilityFilter};
use crate::document::IMAGE_DOCUMENT;
use crate::list::{BindValue, SortDir, SqlBuilder, push_page_row};
use domain::Actor;

/// Images in these statuses are never listed, nor accepted as markers.
const LISTABLE: &str = "i.status NOT IN ('pending_delete', 'deleted')";

/// The page query for `actor`: one row, `marker_found boolean, documents jsonb`.
pub(super) fn image_list_sql(actor: &Actor, query: &ImageListQuery) -> SqlBuilder {
    let mut sql = SqlBuilder::default();
    let order = effective_order(&query.sort);
    let project = sql.bind(BindValue::Text(actor.project_id.clone()));
    let reader = sql.bind(BindValue::Bool(actor.is_reader()));
    let caller = Caller {
        admin: actor.is_admin(),
        project: &project,
        reader: &reader,
    };

    sql.push("WITH ");
    if let Some(marker) = query.marker {
        // The marker must be an image the caller could GET (any member status counts,
        // as in Glance), whatever the filters say.
        let id = sql.bind(BindValue::Uuid(marker.as_uuid()));
        let visible = caller.visible(None);
        sql.push(&format!(
            "marker AS (SELECT i.* FROM images i WHERE i.id = {id} AND {LISTABLE} AND {visible}), "
        ));
    }
    sql.push("page AS (SELECT i.* FROM images i");
    if query.marker.is_some() {
        sql.push(", marker m");
    }
    sql.push(" WHERE ").push(LISTABLE);
    let member_status = query.filters.required_member_status().map(|s| s.as_str());
    let member_status = member_status.map(|s| sql.bind(BindValue::Text(s.to_owned())));
    let visible = caller.visible(Some(member_status.as_deref()));
    sql.push(" AND ").push(&visible);
    push_visibility_filter(&mut sql, query.filters.visibility, &project);
    push_filters(&mut sql, &query.filters);
    if query.marker.is_some() {
        sql.push(" AND (").push(&keyset(&order)).push(")");
    }
    let order_by = order_by(&order);
    sql.push(" ORDER BY ").push(&order_by).push(" LIMIT ");
    push_page_row(
        &mut sql,
        query.limit,
        query.marker.is_some(),
        IMAGE_DOCUMENT,
        "i",
        &order_by,
    );
    sql
}

/// The caller as the visibility conditions need it: placeholders, not values.
struct Caller<'a> {
    admin: bool,
    project: &'a str,
    reader: &'a str,
}

impl Caller<'_> {
    /// Images the caller may see. `member_status`: `None` for GET visibility (any
    /// membership), `Some(None)` for a list of any membership, `Some(Some($n))` for a
    /// list of memberships with that status.
    fn visible(&self, member_status: Option<Option<&str>>) -> String {
        if self.admin {
            return "TRUE".to_owned();
        }
        let Caller {
            project, reader, ..
        } = self;
        let status = match member_status {
            Some(Some(status)) => format!(" AND mm.status = {status}"),
            _ => String::new(),
        };
        // Own images need a role in the project; community and public ones do not.
        format!(
            "(i.visibility IN ('public', 'community') OR (i.owner = {project} AND {reader}) \
             OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members mm \
             WHERE mm.image_id = i.id AND mm.member = {project}{status})))"
        )
    }
}

/// `visibility=`: one visibility, all, or (absent) everything but other projects'
/// community images.
fn push_visibility_filter(sql: &mut SqlBuilder, filter: Option<VisibilityFilter>, project: &str) {
    match filter {
        None => {
            sql.push(&format!(
                " AND (i.visibility <> 'community' OR i.owner = {project})"
            ));
        }
        Some(VisibilityFilter::All) => {}
        Some(one) => {
            sql.push(" AND i.visibility = ");
            sql.push_bind(BindValue::Text(one.as_str().to_owned()));
        }
    }
}

fn push_filters(sql: &mut SqlBuilder, f: &ImageFilters) {
    fn equal(sql: &mut SqlBuilder, column: &str, value: Option<BindValue>) {
        if let Some(value) = value {
            sql.push(&format!(" AND i.{column} = "));
            sql.push_bind(value);
        }
    }
    let text = |s: &str| BindValue::Text(s.to_owned());
    equal(sql, "name", f.name.as_deref().map(text));
    equal(sql, "owner", f.owner.as_deref().map(text));
    equal(sql, "checksum", f.checksum.as_deref().map(text));
    equal(sql, "os_hash_value", f.os_hash_value.as_deref().map(text));
    equal(sql, "protected", f.protected.map(BindValue::Bool));
    // Hidden images stay out of lists unless asked for.
    equal(
        sql,
        "os_hidden",
        Some(BindValue::Bool(f.os_hidden.unwrap_or(false))),
    );
    push_known(
        sql,
        "status",
        f.status.as_ref().map(|k| known_text(k, |s| s.as_str())),
    );
    push_known(
        sql,
        "disk_format",
        f.disk_format
            .as_ref()
            .map(|k| known_text(k, |s| s.as_str())),
    );
    let container = f
        .container_format
        .as_ref()
        .map(|k| known_text(k, |s| s.as_str()));
    push_known(sql, "container_format", container);
    if let Some(min) = f.size_min {
        sql.push(" AND i.size >= ")
            .push_bind(BindValue::BigInt(min));
    }
    if let Some(max) = f.size_max {
        sql.push(" AND i.size <= ")
            .push_bind(BindValue::BigInt(max));
    }
    if let Some(ids) = &f.ids {
        let ids = ids.iter().map(|id| id.as_uuid()).collect();
        sql.push(" AND i.id = ANY(")
            .push_bind(BindValue::UuidArray(ids))
            .push(")");
    }
    for t in &f.times {
        sql.push(&format!(" AND i.{} {} ", t.field.as_str(), t.op.sql()));
        sql.push_bind(BindValue::Time(t.at));
    }
    for tag in &f.tags {
        sql.push(" AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.tag = ");
        sql.push_bind(text(tag)).push(")");
    }
    for (name, value) in &f.properties {
        sql.push(
            " AND EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = i.id AND p.name = ",
        );
        sql.push_bind(text(name)).push(" AND p.value = ");
        sql.push_bind(text(value)).push(")");
    }
}

/// A vocabulary filter's spelling, or `None` for an unknown value (matches nothing).
fn known_text<T: Copy>(known: &Known<T>, spell: fn(T) -> &'static str) -> Option<&'static str> {
    match known {
        Known::Is(value) => Some(spell(*value)),
        Known::Unknown(_) => None,
    }
}

fn push_known(sql: &mut SqlBuilder, column: &str, filter: Option<Option<&'static str>>) {
    match filter {
        None => {}
        Some(None) => {
            sql.push(" AND FALSE");
        }
        Some(Some(value)) => {
            sql.push(&format!(" AND i.{column} = "));
            sql.push_bind(BindValue::Text(value.to_owned()));
        }
    }
}

/// The requested order with `id` last, so the order (and thus the keyset) is total.
fn effective_order(sort: &[(ImageSortKey, SortDir)]) -> Vec<(ImageSortKey, SortDir)> {
    let mut order = if sort.is_empty() {
        vec![(ImageSortKey::CreatedAt, SortDir::Desc)]
    } else {
        sort.to_vec()
    };
    if !order.iter().any(|(key, _)| *key == ImageSortKey::Id) {
        let dir = order.last().map_or(SortDir::Desc, |(_, dir)| *dir);
        order.push((ImageSortKey::Id, dir));
    }
    order
}

/// NULL counts as larger than every value: last ascending, first descending (Postgres'
/// default, spelled out because the keyset condition depends on it).
fn order_by(order: &[(ImageSortKey, SortDir)]) -> String {
    let terms: Vec<String> = order
        .iter()
        .map(|(key, dir)| {
            let nulls = match (key.nullable(), dir) {
                (false, _) => "",
                (true, SortDir::Asc) => " NULLS LAST",
                (true, SortDir::Desc) => " NULLS FIRST",
            };
            format!("i.{} {}{nulls}", key.as_str(), dir.sql())
        })
        .collect();
    terms.join(", ")
}

/// Rows strictly after the marker `m` in `order`: for some key k, equal on every key
/// before k and after the marker on k.
fn keyset(order: &[(ImageSortKey, SortDir)]) -> String {
    let mut alternatives = Vec::with_capacity(order.len());
    let mut equal_so_far: Vec<String> = Vec::new();
    for (key, dir) in order {
        let c = key.as_str();
        let after = match (key.nullable(), dir) {
            (false, SortDir::Asc) => format!("i.{c} > m.{c}"),
            (false, SortDir::Desc) => format!("i.{c} < m.{c}"),
            // NULL is the largest value: nothing follows a NULL ascending...
            (true, SortDir::Asc) => {
                format!("(m.{c} IS NOT NULL AND (i.{c} IS NULL OR i.{c} > m.{c}))")
            }
            // ...and every non-NULL follows a NULL descending.
            (true, SortDir::Desc) => {
                format!("(i.{c} IS NOT NULL AND (m.{c} IS NULL OR i.{c} < m.{c}))")
            }
        };
        let mut terms = equal_so_far.clone();
        terms.push(after);
        alternatives.push(format!("({})", terms.join(" AND ")));
        equal_so_far.push(if key.nullable() {
            format!("i.{c} IS NOT DISTINCT FROM m.{c}")
        } else {
            format!("i.{c} = m.{c}")
        });
    }
    alternatives.join(" OR ")
}
