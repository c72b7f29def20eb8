//! The `api-gateway` binary: imagefleet's HTTP surface speaking Glance's v2 Image API.
//! Its endpoints are built on the command bus; until then it only reports that.

fn main() {
    eprintln!("api-gateway: the HTTP endpoints are not built yet; use `workers migrate`.");
    std::process::exit(2);
}
