# imagefleet's container image: the three binaries (`api-gateway`, `workers`,
# `imagefleet`) on a slim Debian, run as an unprivileged user. docker-compose.yml runs
# the gateway, the workers and the migration step from this one image.
#
#   docker build -t imagefleet .
#   docker run --rm imagefleet api-gateway --help
#
# The default command is the gateway; pass `workers run`, `workers migrate` or
# `imagefleet ...` to run the others.

# The toolchain the workspace is developed and tested with (its rust-version is the
# minimum; building with the tested one avoids surprises from a dependency's MSRV).
ARG RUST_VERSION=1.95

# --- builder ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# Dependency cache: with only the manifests, the lock file and empty targets, this layer
# compiles every dependency, and is reused as long as no manifest and Cargo.lock change.
# Every workspace member's manifest must be present for cargo to load the workspace, and
# the explicitly declared targets of the tests and bench crates need a file (neither is
# built here).
# Afterwards the stubs' own artifacts are dropped: COPY keeps the sources' modification
# times, which may be older than the stubs', and cargo would then keep the empty binaries.
COPY Cargo.toml Cargo.lock ./
COPY crates/domain/Cargo.toml crates/domain/
COPY crates/wire/Cargo.toml crates/wire/
COPY crates/db/Cargo.toml crates/db/
COPY crates/apply/Cargo.toml crates/apply/
COPY crates/bus/Cargo.toml crates/bus/
COPY crates/outbox/Cargo.toml crates/outbox/
COPY crates/store/Cargo.toml crates/store/
COPY crates/fetch/Cargo.toml crates/fetch/
COPY crates/notifications/Cargo.toml crates/notifications/
COPY crates/inspector/Cargo.toml crates/inspector/
COPY shared/Cargo.toml shared/
COPY api-gateway/Cargo.toml api-gateway/
COPY workers/Cargo.toml workers/
COPY cli/Cargo.toml cli/
COPY tests/Cargo.toml tests/
COPY bench/Cargo.toml bench/
RUN set -eux; \
    for crate in crates/domain crates/wire crates/db crates/apply crates/bus crates/outbox crates/store crates/fetch crates/notifications crates/inspector shared api-gateway workers cli tests; do \
        mkdir -p "$crate/src"; : > "$crate/src/lib.rs"; \
    done; \
    for crate in api-gateway workers cli; do echo 'fn main() {}' > "$crate/src/main.rs"; done; \
    mkdir -p bench/src/bin tests/tests/it tests/tests/offline; \
    for bin in bench_fleet bench_gateway chaos; do echo 'fn main() {}' > "bench/src/bin/$bin.rs"; done; \
    : > tests/tests/it/main.rs; : > tests/tests/offline/main.rs; \
    cargo build --release --locked \
        -p imagefleet-api-gateway -p imagefleet-workers -p imagefleet-cli \
        --features imagefleet-api-gateway/s3,imagefleet-workers/s3,imagefleet-cli/s3; \
    cargo clean --release \
        -p imagefleet-domain -p imagefleet-shared \
        -p imagefleet-wire -p imagefleet-db -p imagefleet-apply -p imagefleet-bus -p imagefleet-outbox \
        -p imagefleet-store -p imagefleet-fetch -p imagefleet-notifications -p imagefleet-inspector \
        -p imagefleet-api-gateway -p imagefleet-workers -p imagefleet-cli

# The real sources (the tests and bench crates keep their stubs: not part of the image).
# migrations/ is embedded into the binaries by the db crate at compile time.
COPY migrations migrations
COPY crates crates
COPY shared shared
COPY api-gateway api-gateway
COPY workers workers
COPY cli cli
RUN cargo build --release --locked \
        -p imagefleet-api-gateway -p imagefleet-workers -p imagefleet-cli \
        --features imagefleet-api-gateway/s3,imagefleet-workers/s3,imagefleet-cli/s3

# --- runtime ---------------------------------------------------------------------------
# bookworm-slim matches the builder's glibc. No HTTP client is installed: the compose
# health check speaks HTTP through bash's /dev/tcp (bash is part of every Debian image).
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to S3 stores and web-download imports verifies against the
# system roots.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so volumes and orchestrators (runAsNonRoot) can rely on it. The data
# directory belongs to it: an empty named volume mounted there is initialised with this
# ownership, so the store is writable without running as root.
RUN set -eux; \
    groupadd --system --gid 10001 imagefleet; \
    useradd --system --uid 10001 --gid imagefleet \
        --home-dir /var/lib/imagefleet --no-create-home --shell /usr/sbin/nologin imagefleet; \
    install -d -o imagefleet -g imagefleet -m 0750 /var/lib/imagefleet

COPY --from=builder /build/target/release/api-gateway /usr/local/bin/api-gateway
COPY --from=builder /build/target/release/workers /usr/local/bin/workers
COPY --from=builder /build/target/release/imagefleet /usr/local/bin/imagefleet

# Inside a container the gateway must listen beyond loopback, and the local store lives
# in the data directory (mount a volume there, shared by every gateway and worker).
ENV IMAGEFLEET_DATA_DIR=/var/lib/imagefleet \
    IMAGEFLEET_BIND=0.0.0.0:9292

USER 10001:10001
WORKDIR /var/lib/imagefleet
EXPOSE 9292
CMD ["api-gateway"]
