//! Token-file identity (SPEC 11): `X-Auth-Token` looked up in
//! `{"tokens": {"<token>": {"project_id", "user_id", "roles"}}}`; an unknown token is 401,
//! identity headers are ignored; and the gateway's flags: `--auth token-file` needs a
//! readable, valid file.

use std::path::{Path, PathBuf};

use api_gateway::Settings;
use api_gateway::config::{ConfigError, GatewayArgs};
use api_gateway::identity::{AuthMode, TokenFileError};
use axum::http::{Method, StatusCode};
use clap::Parser;
use domain::{Actor, DomainConfig};
use imagefleet_tests::TestApp;
use serde_json::json;

use super::{assert_json_error, build, history, owner_of};

const JSON: (&str, &str) = ("accept", "application/json");

/// A file under the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(text: &str) -> Self {
        let name = format!("imagefleet-tokens-{:016x}.json", rand::random::<u64>());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).expect("writing the token file");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A token file with a member and a reader of `p1` and an admin.
fn token_file() -> TempFile {
    let tokens = json!({"tokens": {
        "tok-member": {"project_id": "p1", "user_id": "u1", "roles": ["member", "reader"]},
        "tok-reader": {"project_id": "p1", "user_id": "u2", "roles": ["reader"]},
        "tok-admin": {"project_id": "admin-project", "user_id": "root", "roles": ["admin", "member", "reader"]},
    }});
    TempFile::with(&tokens.to_string())
}

async fn start(file: &TempFile, default_actor: Option<Actor>) -> TestApp {
    let mode = AuthMode::from_token_file(file.path()).expect("token file");
    TestApp::start_with(
        DomainConfig::default(),
        Settings::default(),
        mode,
        default_actor,
    )
    .await
}

fn create_with<'a>(headers: &'a [(&'a str, &'a str)]) -> axum::http::Request<axum::body::Body> {
    build(
        Method::POST,
        "/v2/images",
        headers,
        Some("{\"name\": \"t\"}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_token_acts_as_its_project_user_and_roles() {
    let file = token_file();
    let app = start(&file, None).await;
    let created = app
        .send(create_with(&[("x-auth-token", "tok-member")]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(owner_of(&created), "p1");
    let id = created.json["id"].as_str().expect("id").to_owned();
    let entries = history(&app, &id, &[("x-auth-token", "tok-reader")]).await;
    assert_eq!(entries[0]["actor"]["user_id"], "u1", "{entries:?}");

    let refused = app
        .send(create_with(&[("x-auth-token", "tok-reader"), JSON]))
        .await;
    assert_json_error(&refused, StatusCode::FORBIDDEN);

    // The token decides; identity headers beside it claim nothing.
    let claimed = app
        .send(create_with(&[
            ("x-auth-token", "tok-reader"),
            ("x-project-id", "p9"),
            ("x-roles", "admin,member,reader"),
            JSON,
        ]))
        .await;
    assert_json_error(&claimed, StatusCode::FORBIDDEN);
    let by_admin = app
        .send(create_with(&[("x-auth-token", "tok-admin")]))
        .await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.text);
    assert_eq!(owner_of(&by_admin), "admin-project");
    drop(file);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_token_or_headers_alone_are_401() {
    let file = token_file();
    let app = start(&file, None).await;
    let unknown = app
        .send(create_with(&[("x-auth-token", "tok-nobody"), JSON]))
        .await;
    assert_json_error(&unknown, StatusCode::UNAUTHORIZED);
    let headers_only = app
        .send(create_with(&[
            ("x-project-id", "p1"),
            ("x-user-id", "u1"),
            ("x-roles", "admin,member,reader"),
            JSON,
        ]))
        .await;
    assert_json_error(&headers_only, StatusCode::UNAUTHORIZED);
    let nothing = app
        .send(build(Method::GET, "/v2/images", &[JSON], None))
        .await;
    assert_json_error(&nothing, StatusCode::UNAUTHORIZED);
    let listed = app
        .send(build(
            Method::GET,
            "/v2/images",
            &[("x-auth-token", "tok-admin")],
            None,
        ))
        .await;
    assert_eq!(listed.json["images"], json!([]), "{}", listed.text);
    drop(file);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_default_identity_only_an_unknown_token_is_401() {
    let file = token_file();
    let default = Actor::new("dev", "dev-user", &["member", "reader"]);
    let app = start(&file, Some(default)).await;
    let unknown = app
        .send(create_with(&[("x-auth-token", "tok-nobody"), JSON]))
        .await;
    assert_json_error(&unknown, StatusCode::UNAUTHORIZED);
    // Headers alone are ignored: the request acts as the default identity.
    let headers_only = app
        .send(create_with(&[
            ("x-project-id", "p1"),
            ("x-user-id", "u1"),
            ("x-roles", "member,reader"),
        ]))
        .await;
    assert_eq!(
        headers_only.status,
        StatusCode::CREATED,
        "{}",
        headers_only.text
    );
    assert_eq!(owner_of(&headers_only), "dev");
    drop(file);
    app.stop().await;
}

/// The gateway's flags, as its binary parses them.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    gateway: GatewayArgs,
}

fn parse(args: &[&str]) -> GatewayArgs {
    let argv = std::iter::once("gateway").chain(args.iter().copied());
    imagefleet_tests::flags::parse_without_env::<Flags>(argv)
        .expect("flags")
        .gateway
}

#[test]
fn token_file_auth_without_a_file_is_a_config_error() {
    let error = parse(&["--auth", "token-file"])
        .identity()
        .expect_err("no token file");
    assert!(matches!(error, ConfigError::MissingTokenFile), "{error:?}");
    assert!(
        error.to_string().contains("IMAGEFLEET_TOKEN_FILE"),
        "{error}"
    );
}

#[test]
fn token_file_auth_reads_the_file() {
    let file = token_file();
    let shown = file.path().display().to_string();
    let identity = parse(&["--auth", "token-file", "--token-file", &shown])
        .identity()
        .expect("identity");
    let AuthMode::Tokens(tokens) = identity.mode else {
        panic!("token mode expected: {:?}", identity.mode);
    };
    assert_eq!(
        tokens.get("tok-reader"),
        Some(&Actor::new("p1", "u2", &["reader"]))
    );
    assert_eq!(tokens.len(), 3);
    assert!(identity.default_actor.is_none());

    let with_default = parse(&["--default-project", "dev"])
        .identity()
        .expect("identity");
    assert!(matches!(with_default.mode, AuthMode::Headers));
    let default = with_default.default_actor.expect("default actor");
    assert_eq!(default.project_id, "dev");
    assert_eq!(default.roles, ["member", "reader"]);
}

#[test]
fn a_malformed_or_missing_token_file_is_a_clear_error() {
    for text in [
        "not json",
        r#"{"tokens": {"t": {"project_id": "p1"}}}"#,
        r#"{"tokens": {"t": {"project_id": "p1", "user_id": "u", "roles": "admin"}}}"#,
        r#"{"token": {}}"#,
        r#"["t"]"#,
    ] {
        let file = TempFile::with(text);
        let shown = file.path().display().to_string();
        let error = parse(&["--auth", "token-file", "--token-file", &shown])
            .identity()
            .expect_err(text);
        assert!(
            matches!(error, ConfigError::TokenFile(TokenFileError::Parse { .. })),
            "{text}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(&shown), "{message}");
        assert!(message.contains("not valid"), "{message}");
    }
    let gone =
        std::env::temp_dir().join(format!("imagefleet-absent-{:016x}", rand::random::<u64>()));
    let shown = gone.display().to_string();
    let error = parse(&["--auth", "token-file", "--token-file", &shown])
        .identity()
        .expect_err("missing file");
    assert!(
        matches!(error, ConfigError::TokenFile(TokenFileError::Read { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains(&shown), "{error}");
}
