# syntax=docker/dockerfile:1
# One image, one binary per service: `docker run m2m gateway`, `... processing-service`,
# `... sync-worker`, and the operators' `events` tool. Built in a full Rust image, run
# in a slim Debian as a non-root user (scripts/check-dockerfile checks the USER).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep the registry and the build between image builds; the binaries
# are copied out because a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/gateway target/release/processing-service \
          target/release/sync-worker target/release/events target/release/m2m-probe /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin m2m
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
ENV RUST_LOG=info M2M_LOG_FORMAT=json
# The gateway's port, and the workers' operations ports (/healthz, /readyz, /metrics).
EXPOSE 8080 9101 9102
# SIGTERM starts the drain (M2M_SHUTDOWN_DEADLINE_MS); give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
CMD ["gateway"]
