# Multi-stage build of the linkyard binary. The first stage compiles in the official Rust image;
# the second carries only the binary and CA certificates, and runs as an unprivileged user.
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY actors/Cargo.toml actors/Cargo.toml
COPY migrations/Cargo.toml migrations/Cargo.toml
COPY benches/Cargo.toml benches/Cargo.toml
RUN mkdir -p src actors/src migrations/src benches/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs actors/src/lib.rs migrations/src/lib.rs \
    && echo 'fn main() {}' > benches/src/main.rs \
    && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin linkyard \
    && install -D target/release/linkyard /out/linkyard

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/linkyard --create-home linkyard
COPY --from=build /out/linkyard /usr/local/bin/linkyard
COPY config/production.toml /etc/linkyard/production.toml
USER linkyard
WORKDIR /var/lib/linkyard
ENV LINKYARD_STORAGE__DATA_DIR=/var/lib/linkyard
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["linkyard", "--config", "/etc/linkyard/production.toml"]
CMD ["serve"]
