# syntax=docker/dockerfile:1
# Multi-stage build of pitcrew: a Rust builder, then a slim non-root runtime image.
#   docker build -t pitcrew .
# No container engine runs on the development machines: scripts/dockerfile_check.py (run by
# scripts/test.sh) runs this file's build steps outside Docker and checks the runtime stage
# (see README, "Container image"). Keep instructions to what it interprets.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. Cargo reads every target the
# manifest declares, so the benchmark sources and the test binary's entry file must be there
# (neither is compiled by `cargo build`).
COPY Cargo.toml Cargo.lock ./
# The workspace's small crates (the command language, Slack's wire format) change rarely and
# build in seconds: copied whole, they are built with the dependencies.
COPY crates ./crates
COPY benches ./benches
COPY tests/integration/main.rs ./tests/integration/main.rs
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY src ./src
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin pitcrew

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric non-root user, so Kubernetes' runAsNonRoot can verify it.
RUN useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin pitcrew
COPY --from=build /src/target/release/pitcrew /usr/local/bin/pitcrew
COPY config/pitcrew.example.toml /etc/pitcrew/config/pitcrew.example.toml
COPY policies /etc/pitcrew/policies
USER 65532:65532
WORKDIR /var/lib/pitcrew
EXPOSE 3000
ENV PITCREW_CONFIG=/etc/pitcrew/config/pitcrew.toml PITCREW_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/pitcrew"]
CMD ["serve"]
