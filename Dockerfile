# One image, one binary per service: `docker run m2m gateway`, `... processing-service`,
# `... sync-worker`. Built in a full Rust image, run in a slim Debian as non-root.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/gateway target/release/processing-service target/release/sync-worker /out/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home m2m
COPY --from=build /out/ /usr/local/bin/
USER 10001
ENV RUST_LOG=info M2M_LOG_FORMAT=json
