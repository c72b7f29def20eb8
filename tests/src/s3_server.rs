//! `S3Server`: moto's S3 server (`moto[server]` from PyPI, in the client tests'
//! virtualenv, see `scripts/client-venv`) on a free loopback port, one per test, with
//! a bucket of the test's own; the process is killed when the value is dropped, and
//! its objects, kept in its memory only, go with it. The tests reach it through a
//! [`FaultProxy`] so that a test can take "the server" down and bring it back with
//! its objects intact (stopping moto itself would lose them).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use store::ImageStore;

use crate::FaultProxy;
use crate::process::free_port;
use crate::python::python;
use crate::wait::wait_until;

/// How long moto may take to answer after its start (a cold Python import).
const STARTUP: Duration = Duration::from_secs(60);

/// The credentials and region the tests sign with (moto accepts any).
const SETTINGS: [(&str, &str); 4] = [
    ("aws_access_key_id", "imagefleet-test"),
    ("aws_secret_access_key", "imagefleet-test"),
    ("aws_region", "us-east-1"),
    ("aws_allow_http", "true"),
];

/// A running moto S3 server with one bucket, behind a fault proxy.
pub struct S3Server {
    child: Child,
    /// moto's own address.
    url: String,
    /// Between the store and moto.
    proxy: FaultProxy,
    bucket: String,
    http: reqwest::Client,
}

impl S3Server {
    /// Starts moto on a free port, waits until it answers and creates the bucket.
    pub async fn start() -> anyhow::Result<Self> {
        let python = python().await;
        let port = free_port(|_| false)?;
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto's server")?;
        let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).await?;
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            proxy,
            bucket: format!("imagefleet-{}", uuid::Uuid::new_v4().simple()),
            http: reqwest::Client::new(),
        };
        let (http, url) = (server.http.clone(), server.url.clone());
        let child = &mut server.child;
        wait_until(STARTUP, "moto's server answers", async || {
            matches!(child.try_wait(), Ok(Some(_))) || http.get(&url).send().await.is_ok()
        })
        .await?;
        anyhow::ensure!(
            server.child.try_wait()?.is_none(),
            "moto's server exited at start (is `moto[server]` in the venv?)"
        );
        let created = server
            .http
            .put(format!("{}/{}", server.url, server.bucket))
            .send()
            .await?;
        anyhow::ensure!(
            created.status().is_success(),
            "creating the bucket: {}",
            created.status()
        );
        Ok(server)
    }

    /// The proxy between the stores and moto: [`Fault::Down`](crate::Fault::Down)
    /// takes the server down, [`Fault::Pass`](crate::Fault::Pass) brings it back.
    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    /// A store on the bucket under `prefix`, through the proxy, whose requests are
    /// retried for up to `retry_timeout`, as `IMAGEFLEET_STORE_URL` and the `AWS_*`
    /// variables configure one.
    pub fn store(&self, prefix: &str, retry_timeout: Duration) -> ImageStore {
        self.store_in(&self.bucket, prefix, retry_timeout)
    }

    /// A store like [`S3Server::store`] on another bucket of the server (one that does
    /// not exist makes a store whose every request fails).
    pub fn store_in(&self, bucket: &str, prefix: &str, retry_timeout: Duration) -> ImageStore {
        let endpoint = format!("http://{}", self.proxy.address());
        let mut settings = SETTINGS.to_vec();
        settings.push(("aws_endpoint", &endpoint));
        let url = format!("s3://{bucket}/{prefix}");
        ImageStore::s3(&url, &settings, retry_timeout).expect("the test's S3 store opens")
    }

    /// [`S3Server::store`] as a deployment's only store (`IMAGEFLEET_STORE_URL`).
    pub fn single_store(&self, prefix: &str, retry_timeout: Duration) -> store::Stores {
        store::Stores::single(self.store(prefix, retry_timeout), store::StoreKind::S3)
    }

    /// Whether an object is stored under `key` (asked of moto directly).
    pub async fn has_object(&self, key: &str) -> anyhow::Result<bool> {
        let url = format!("{}/{}/{key}", self.url, self.bucket);
        let status = self.http.head(url).send().await?.status();
        anyhow::ensure!(
            status.is_success() || status == reqwest::StatusCode::NOT_FOUND,
            "HEAD {key}: {status}"
        );
        Ok(status.is_success())
    }

    /// Begins a multipart upload of `key` (CreateMultipartUpload, asked of moto
    /// directly), as a writer that then dies would leave it.
    pub async fn begin_upload(&self, key: &str) -> anyhow::Result<()> {
        let url = format!("{}/{}/{key}?uploads", self.url, self.bucket);
        let status = self.http.post(url).send().await?.status();
        anyhow::ensure!(status.is_success(), "CreateMultipartUpload {key}: {status}");
        Ok(())
    }

    /// The keys of the bucket's incomplete multipart uploads (ListMultipartUploads,
    /// asked of moto directly).
    pub async fn incomplete_uploads(&self) -> anyhow::Result<Vec<String>> {
        let url = format!("{}/{}?uploads", self.url, self.bucket);
        let response = self.http.get(url).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "ListMultipartUploads: {}",
            response.status()
        );
        let body = response.text().await?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
