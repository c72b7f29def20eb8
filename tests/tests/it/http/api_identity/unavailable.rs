//! No worker answers (SPEC 11, 12): a create is a Glance-shaped 503 with `Retry-After`,
//! and the same request with the same `Idempotency-Key` succeeds once a worker runs,
//! leaving the image created exactly once. The 503 means "not applied": a worker that
//! starts afterwards finds the command past its deadline, records it as expired and
//! never creates the image.

use std::time::Duration;

use api_gateway::Settings;
use axum::http::{Method, StatusCode};
use imagefleet_tests::TestResponse;
use imagefleet_tests::wait::wait_until;

use super::{Stack, assert_json_error, build, header_of, listed};

const OWNER: [(&str, &str); 4] = [
    ("x-project-id", "p1"),
    ("x-user-id", "u1"),
    ("x-roles", "member,reader"),
    ("accept", "application/json"),
];

#[tokio::test(flavor = "multi_thread")]
async fn without_a_worker_a_create_is_503_and_its_retry_creates_once() {
    let settings = Settings {
        command_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let stack = Stack::without_worker(settings).await;
    let name = format!("unanswered-{:08x}", rand::random::<u32>());
    let body = format!("{{\"name\": \"{name}\", \"disk_format\": \"raw\"}}");
    let mut headers = OWNER.to_vec();
    headers.push(("idempotency-key", "create-after-503"));
    let create = || stack.call(build(Method::POST, "/v2/images", &headers, Some(&body)));

    let refused = create().await;
    assert_json_error(&refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_of(&refused, "retry-after"), Some("2"));
    let list_path = format!("/v2/images?name={name}");
    let none = stack
        .call(build(Method::GET, &list_path, &OWNER, None))
        .await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.text);
    assert_eq!(listed(&none), 0, "{}", none.text);

    let worker = stack.start_worker();
    let mut answers: Vec<TestResponse> = Vec::new();
    wait_until(
        Duration::from_secs(30),
        "the retried create succeeds",
        async || {
            let response = create().await;
            let done = response.status == StatusCode::CREATED;
            answers.push(response);
            done
        },
    )
    .await
    .unwrap_or_else(|e| {
        let seen: Vec<_> = answers.iter().map(|a| (a.status, &a.text)).collect();
        panic!("{e}: {seen:?}")
    });
    for answer in &answers[..answers.len() - 1] {
        assert_json_error(answer, StatusCode::SERVICE_UNAVAILABLE);
    }
    let created = answers.last().expect("an answer");
    assert_eq!(created.json["name"], name.as_str(), "{}", created.text);
    assert_eq!(created.json["owner"], "p1", "{}", created.text);

    // Once more: the same outcome, still one image.
    let again = create().await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.json["id"], created.json["id"]);
    let once = stack
        .call(build(Method::GET, &list_path, &OWNER, None))
        .await;
    assert_eq!(listed(&once), 1, "{}", once.text);
    worker.stop().await;
}

#[derive(diesel::QueryableByName)]
struct Expired {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_answered_503_is_never_applied_by_workers_started_later() {
    use diesel_async::RunQueryDsl;
    let settings = Settings {
        command_timeout: Duration::from_millis(500),
        commit_margin: Duration::from_millis(200),
        ..Settings::default()
    };
    let stack = Stack::without_worker(settings).await;
    let name = format!("never-{:08x}", rand::random::<u32>());
    let body = format!("{{\"name\": \"{name}\", \"disk_format\": \"raw\"}}");
    // No Idempotency-Key, as python-glanceclient and openstacksdk send it.
    let refused = stack
        .call(build(Method::POST, "/v2/images", &OWNER, Some(&body)))
        .await;
    assert_json_error(&refused, StatusCode::SERVICE_UNAVAILABLE);

    let worker = stack.start_worker();
    let mut conn = stack.db().conn().await.expect("connection");
    wait_until(
        Duration::from_secs(30),
        "the worker records the create as expired",
        async || {
            diesel::sql_query(
                "SELECT count(*) AS n FROM processed_commands \
                 WHERE command_type = 'create_image' AND rejection->>'kind' = 'expired'",
            )
            .get_result::<Expired>(&mut conn)
            .await
            .is_ok_and(|row| row.n == 1)
        },
    )
    .await
    .expect("recorded as expired");
    let list_path = format!("/v2/images?name={name}");
    let none = stack
        .call(build(Method::GET, &list_path, &OWNER, None))
        .await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.text);
    assert_eq!(listed(&none), 0, "never created: {}", none.text);
    assert_eq!(crate::db::repository::count(stack.db(), "images").await, 0);
    worker.stop().await;
}
