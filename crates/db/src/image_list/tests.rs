//! Unit tests of the image list's SQL builder: every user value is a bind.

use super::*;
use crate::list::{BindValue, SortDir};
use std::collections::BTreeMap;
use uuid::Uuid;

#[test]
fn user_values_are_bound_never_interpolated() {
    let evil = "x'); DROP TABLE images; --";
    let marker = "6bbe7cc2-eae7-4c0f-b50d-a7160b0c6a86";
    // What the gateway parses from name, owner, tag, checksum, a property, marker and
    // sort=name:asc,size.
    let q = ImageListQuery {
        filters: ImageFilters {
            name: Some(evil.to_owned()),
            owner: Some(evil.to_owned()),
            tags: vec![evil.to_owned()],
            checksum: Some(evil.to_owned()),
            properties: BTreeMap::from([(evil.to_owned(), evil.to_owned())]),
            ..ImageFilters::default()
        },
        sort: vec![
            (ImageSortKey::Name, SortDir::Asc),
            (ImageSortKey::Size, SortDir::Desc),
            (ImageSortKey::CreatedAt, SortDir::Desc),
            (ImageSortKey::Id, SortDir::Desc),
        ],
        marker: Some(ImageId::from_uuid(Uuid::parse_str(marker).expect("uuid"))),
        ..ImageListQuery::default()
    };
    let actor = domain::Actor::new(evil, evil, &["reader"]);
    let sql = sql::image_list_sql(&actor, &q);
    assert!(!sql.text.contains("DROP TABLE"), "{}", sql.text);
    assert!(!sql.text.contains(marker), "{}", sql.text);
    let texts = sql
        .binds
        .iter()
        .filter(|b| **b == BindValue::Text(evil.to_owned()));
    // The project, name, owner, checksum, tag, and the property's name and value.
    assert_eq!(texts.count(), 7);
    let placeholders = (1..=sql.binds.len()).all(|n| sql.text.contains(&format!("${n}")));
    assert!(placeholders, "every bind is used: {}", sql.text);
}
