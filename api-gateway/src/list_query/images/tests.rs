//! Unit tests of `parse_image_list`: what Glance accepts parses into typed values, what
//! it refuses is a `ListError` naming the parameter.

use super::*;
use chrono::TimeZone;
use db::image_list::{MemberStatusFilter, TimeField, VisibilityFilter};
use domain::status::{DiskFormat, ImageStatus};

fn parse(query: &[(&str, &str)]) -> Result<ImageListQuery, ListError> {
    let pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_image_list(&pairs)
}

fn ok(query: &[(&str, &str)]) -> ImageListQuery {
    parse(query).unwrap_or_else(|e| panic!("{query:?} should parse: {e}"))
}

fn refused(query: &[(&str, &str)]) -> String {
    match parse(query) {
        Ok(q) => panic!("{query:?} should be refused, parsed as {q:?}"),
        Err(e) => e.to_string(),
    }
}

use ImageSortKey as K;
use SortDir::{Asc, Desc};

#[test]
fn no_parameters_is_the_default_list() {
    assert_eq!(ok(&[]), ImageListQuery::default());
    assert_eq!(ok(&[]).sort, vec![(K::CreatedAt, Desc), (K::Id, Desc)]);
}

#[test]
fn filters_parse_into_typed_values() {
    let q = ok(&[
        ("name", "cirros"),
        ("status", "active"),
        ("visibility", "shared"),
        ("member_status", "pending"),
        ("owner", "p1"),
        ("tag", "a"),
        ("tag", " b "),
        ("tag", "a"),
        ("size_min", "10"),
        ("size_max", "0"),
        ("protected", "True"),
        ("os_hidden", "false"),
        ("disk_format", "qcow2"),
        ("container_format", "tarball"),
        ("os_distro", "ubuntu"),
    ]);
    let f = &q.filters;
    assert_eq!(f.name.as_deref(), Some("cirros"));
    assert_eq!(f.status, Some(Known::Is(ImageStatus::Active)));
    assert_eq!(f.visibility, Some(VisibilityFilter::Shared));
    assert_eq!(f.member_status, Some(MemberStatusFilter::Pending));
    assert_eq!(f.owner.as_deref(), Some("p1"));
    assert_eq!(f.tags, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!((f.size_min, f.size_max), (Some(10), Some(0)));
    assert_eq!((f.protected, f.os_hidden), (Some(true), Some(false)));
    assert_eq!(f.disk_format, Some(Known::Is(DiskFormat::Qcow2)));
    assert_eq!(
        f.container_format,
        Some(Known::Unknown("tarball".to_owned()))
    );
    assert_eq!(
        f.properties.get("os_distro").map(String::as_str),
        Some("ubuntu")
    );
}

#[test]
fn an_unknown_status_matches_nothing_rather_than_failing() {
    let q = ok(&[("status", "bogus")]);
    assert_eq!(q.filters.status, Some(Known::Unknown("bogus".to_owned())));
}

#[test]
fn id_in_takes_uuids_only() {
    let a = "6bbe7cc2-eae7-4c0f-b50d-a7160b0c6a86";
    let b = "29ba4e43-63f6-4b3c-b2d8-8d9d1b1fa2b3";
    let q = ok(&[("id", &format!("in:{a},{b}"))]);
    assert_eq!(q.filters.ids.map(|ids| ids.len()), Some(2));
    assert!(refused(&[("id", "in:nope")]).contains("'id'"));
    assert!(refused(&[("id", &format!("in:{a},"))]).contains("UUID"));
}

#[test]
fn time_filters_take_an_operator_and_an_iso_time() {
    let q = ok(&[
        ("created_at", "gte:2024-01-31T12:00:00Z"),
        ("created_at", "lt:2024-02-01T00:00:00+01:00"),
        ("updated_at", "2024-03-01"),
    ]);
    let t = &q.filters.times;
    assert_eq!((t[0].field, t[0].op), (TimeField::CreatedAt, TimeOp::Gte));
    assert_eq!(
        t[0].at,
        Utc.with_ymd_and_hms(2024, 1, 31, 12, 0, 0)
            .single()
            .expect("time")
    );
    assert_eq!(
        t[1].at,
        Utc.with_ymd_and_hms(2024, 1, 31, 23, 0, 0)
            .single()
            .expect("time")
    );
    assert_eq!((t[2].field, t[2].op), (TimeField::UpdatedAt, TimeOp::Eq));
    for bad in [
        "after:2024-01-01T00:00:00Z",
        "gt:yesterday",
        "gt:",
        "neq:2024-13-01",
    ] {
        assert!(refused(&[("created_at", bad)]).contains("gte:"), "{bad}");
    }
}

#[test]
fn both_sort_forms_parse_and_get_tie_breakers() {
    assert_eq!(
        ok(&[("sort", "name:asc,size")]).sort,
        vec![
            (K::Name, Asc),
            (K::Size, Desc),
            (K::CreatedAt, Desc),
            (K::Id, Desc)
        ]
    );
    assert_eq!(
        ok(&[
            ("sort_key", "name"),
            ("sort_key", "status"),
            ("sort_dir", "asc")
        ])
        .sort,
        vec![
            (K::Name, Asc),
            (K::Status, Asc),
            (K::CreatedAt, Asc),
            (K::Id, Asc)
        ]
    );
    assert_eq!(
        ok(&[
            ("sort_key", "id"),
            ("sort_key", "size"),
            ("sort_dir", "asc"),
            ("sort_dir", "desc")
        ])
        .sort,
        vec![(K::Id, Asc), (K::Size, Desc), (K::CreatedAt, Desc)]
    );
    assert_eq!(
        ok(&[("sort_dir", "asc")]).sort,
        vec![(K::CreatedAt, Asc), (K::Id, Asc)]
    );
    for key in K::ALL {
        assert_eq!(ok(&[("sort_key", key.as_str())]).sort[0], (*key, Desc));
    }
}

#[test]
fn bad_sorting_is_refused() {
    assert!(refused(&[("sort_key", "checksum")]).contains("sort_key"));
    assert!(refused(&[("sort_dir", "up")]).contains("asc or desc"));
    assert!(refused(&[("sort", "name:up")]).contains("asc or desc"));
    assert!(refused(&[("sort", "bogus")]).contains("sort_key"));
    assert!(refused(&[("sort", "name"), ("sort_key", "id")]).contains("not both"));
    assert!(refused(&[("sort", "name"), ("sort_dir", "asc")]).contains("not both"));
    assert!(
        refused(&[
            ("sort_key", "name"),
            ("sort_dir", "asc"),
            ("sort_dir", "desc")
        ])
        .contains("sort_dir")
    );
    assert!(refused(&[("sort", "name,name")]).contains("more than once"));
}

#[test]
fn limit_is_a_capped_non_negative_integer() {
    assert_eq!(ok(&[("limit", "0")]).limit, 0);
    assert_eq!(ok(&[("limit", "7")]).limit, 7);
    assert_eq!(ok(&[("limit", "5000")]).limit, 1000);
    assert_eq!(ok(&[("limit", "99999999999999999999999")]).limit, 1000);
    assert!(refused(&[("limit", "-1")]).contains("negative"));
    assert!(refused(&[("limit", "ten")]).contains("non-negative integer"));
    assert!(refused(&[("limit", "")]).contains("limit"));
    let limits = PageLimits {
        default_limit: 5,
        max_limit: 3,
    };
    let pairs = [("limit".to_owned(), "4".to_owned())];
    assert_eq!(
        parse_image_list_with(&pairs, limits).map(|q| q.limit),
        Ok(3)
    );
    assert_eq!(parse_image_list_with(&[], limits).map(|q| q.limit), Ok(3));
}

#[test]
fn bad_values_are_refused_with_the_parameter_named() {
    let cases: &[(&str, &str)] = &[
        ("marker", "not-a-uuid"),
        ("visibility", "everyone"),
        ("member_status", "maybe"),
        ("size_min", "-1"),
        ("size_max", "big"),
        ("protected", "yes"),
        ("os_hidden", "1"),
    ];
    for (param, value) in cases {
        let message = refused(&[(param, value)]);
        assert!(message.contains(&format!("'{param}'")), "{message}");
    }
}

#[test]
fn single_valued_parameters_may_not_repeat() {
    assert!(refused(&[("name", "a"), ("name", "b")]).contains("only once"));
    assert!(refused(&[("limit", "1"), ("limit", "2")]).contains("only once"));
    assert!(refused(&[("os_distro", "a"), ("os_distro", "b")]).contains("only once"));
    assert!(refused(&[("changes-since", "2024-01-01")]).contains("updated_at"));
}

#[test]
fn a_marker_is_kept_as_an_image_id() {
    let id = "6bbe7cc2-eae7-4c0f-b50d-a7160b0c6a86";
    assert_eq!(
        ok(&[("marker", id)]).marker.map(|m| m.to_string()),
        Some(id.to_owned())
    );
}

#[test]
fn refusals_keep_glances_messages_word_for_word() {
    assert_eq!(
        refused(&[("sort_key", "checksum")]),
        "Invalid value 'checksum' for 'sort_key': expected one of name, status, \
         container_format, disk_format, size, id, created_at, updated_at, visibility, owner, \
         min_disk, min_ram, virtual_size, protected, os_hidden."
    );
    assert_eq!(
        refused(&[("visibility", "everyone")]),
        "Invalid value 'everyone' for 'visibility': expected one of public, private, shared, \
         community, all."
    );
    assert_eq!(
        refused(&[("sort_dir", "up")]),
        "Invalid value 'up' for 'sort_dir': expected asc or desc."
    );
    assert_eq!(
        refused(&[("limit", "-1")]),
        "Invalid value '-1' for 'limit': the limit must not be negative."
    );
    assert_eq!(
        refused(&[("name", "a"), ("name", "b")]),
        "The parameter 'name' may be given only once."
    );
}
