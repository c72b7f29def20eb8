//! The `Dockerfile` builds the three binaries in a builder stage and runs them as an
//! unprivileged user, exposing the gateway's port. Parsed, no Docker engine needed.

use crate::repo_files::read;

#[test]
fn dockerfile_builds_in_stages_and_runs_unprivileged() {
    let text = read("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let stages = lines
        .iter()
        .filter(|l| l.starts_with("FROM ") && l.to_ascii_uppercase().contains(" AS "))
        .count();
    assert!(
        stages >= 2,
        "a builder and a runtime stage (FROM ... AS ...)"
    );

    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER instruction");
    let name = user.trim().split(':').next().unwrap_or_default();
    assert!(
        !["", "root", "0"].contains(&name),
        "the image must not run as root: USER {user}"
    );

    for binary in ["api-gateway", "workers", "imagefleet"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("COPY --from=") && l.contains(&format!("/{binary} "))),
            "the runtime stage must copy {binary} from the builder"
        );
    }
    assert!(lines.contains(&"EXPOSE 9292"));
}
