//! `inject_image_metadata`: the configured properties are added to a member's imports
//! (glance-direct and web-download), not to those of an ignored role (admin, Glance's
//! default), and not to an image whose import failed; injected properties that take the
//! image past its property quota fail the import. The requester's roles, recorded for
//! the injection step, are not shown in the task.

use super::*;
use imagefleet_tests::fixtures::admin;
use std::collections::BTreeMap;

/// A stack injecting `hw_vendor=acme` and `source=mirror:internal`, whose web-downloads
/// may read `source`.
async fn injecting(source: &HttpSource, scratch: &ScratchDir, domain: DomainConfig) -> TestApp {
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    let plugins = ImportPlugins {
        order: vec![ImportPlugin::InjectImageMetadata],
        inject: BTreeMap::from([
            ("hw_vendor".to_owned(), "acme".to_owned()),
            ("source".to_owned(), "mirror:internal".to_owned()),
        ]),
        scratch_dir: scratch.path().to_owned(),
        ..ImportPlugins::default()
    };
    TestApp::start_with_plugins(domain, filter, plugins).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_members_imports_get_the_injected_properties_and_an_admins_do_not() {
    let source = HttpSource::start(vec![("disk.img", pattern(4096))]).await;
    let scratch = scratch();
    let app = injecting(&source, &scratch, DomainConfig::default()).await;
    let web = json!({"name": "web-download", "uri": source.url("disk.img")});

    let staged = new_image(&app, &owner(), "raw").await;
    stage_and_import(&app, &owner(), &staged, pattern(2048)).await;
    let downloaded = new_image(&app, &owner(), "raw").await;
    import(&app, &owner(), &downloaded, web.clone()).await;
    for id in [&staged, &downloaded] {
        assert_eq!(finished_task(&app, id).await["status"], "success");
        let shown = image(&app, &owner(), id).await;
        assert_eq!(shown["hw_vendor"], "acme", "{shown}");
        assert_eq!(shown["source"], "mirror:internal", "{shown}");
    }

    let by_admin = new_image(&app, &admin(), "raw").await;
    import(&app, &admin(), &by_admin, web).await;
    assert_eq!(finished_task(&app, &by_admin).await["status"], "success");
    let shown = image(&app, &admin(), &by_admin).await;
    assert_eq!(shown["status"], "active");
    assert!(shown.get("hw_vendor").is_none(), "{shown}");
    assert!(shown.get("source").is_none(), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_import_gets_no_injected_properties() {
    let source = HttpSource::start(vec![]).await;
    let scratch = scratch();
    let app = injecting(&source, &scratch, DomainConfig::default()).await;
    let id = new_image(&app, &owner(), "raw").await;
    let missing = json!({"name": "web-download", "uri": source.url("missing.img")});
    import(&app, &owner(), &id, missing).await;
    assert_failed(&app, &id, "404", &scratch).await;
    let shown = image(&app, &owner(), &id).await;
    assert!(shown.get("hw_vendor").is_none(), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_properties_past_the_property_quota_fail_the_import() {
    let source = HttpSource::start(vec![("disk.img", pattern(4096))]).await;
    let scratch = scratch();
    let domain = DomainConfig {
        image_property_quota: 1,
        ..DomainConfig::default()
    };
    let app = injecting(&source, &scratch, domain).await;
    let id = new_image(&app, &owner(), "raw").await;
    import(
        &app,
        &owner(),
        &id,
        json!({"name": "web-download", "uri": source.url("disk.img")}),
    )
    .await;
    assert_failed(&app, &id, "Maximum image properties exceeded", &scratch).await;
    let shown = image(&app, &owner(), &id).await;
    assert!(shown.get("hw_vendor").is_none(), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_requesters_roles_are_not_shown_in_the_import_task() {
    let source = HttpSource::start(vec![("disk.img", pattern(4096))]).await;
    let scratch = scratch();
    let app = injecting(&source, &scratch, DomainConfig::default()).await;
    let id = new_image(&app, &owner(), "raw").await;
    stage_and_import(&app, &owner(), &id, pattern(2048)).await;
    let listed = finished_task(&app, &id).await;
    let task_id = listed["id"].as_str().expect("a task id");
    let shown = app
        .get(&format!("/v2/tasks/{task_id}"), &admin())
        .await
        .json;
    for task in [&listed, &shown] {
        assert_eq!(
            task["input"]["import_req"]["method"]["name"],
            "glance-direct"
        );
        assert!(task["input"].get("requester_roles").is_none(), "{task}");
    }
}
