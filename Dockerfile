# syntax=docker/dockerfile:1
#
# One image holding the four service binaries (and `lab`, whose sink is the
# compose stack's lab-sink), compiled once:
#
#   build    the whole workspace source, `cargo build --release` of the four
#            service packages. The cargo registry and target/ live in BuildKit
#            cache mounts, so a rebuild after a code change recompiles only the
#            workspace crates, not the ~300 dependencies.
#   runtime  debian slim + the four binaries + config/, as a non-root user.
#
# docker compose builds it once (`build:` of api-gateway) as tracing-workshop:local;
# each service's `command:` picks its binary. Base images come from .env
# (RUST_IMAGE, RUNTIME_IMAGE) through compose build args; the defaults below
# are the same. Nothing here downloads anything architecture-specific, so the
# image builds natively on amd64 and arm64 (Apple silicon).

ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# One target/ cache per platform: amd64 and arm64 builds must not share it.
ARG TARGETPLATFORM
WORKDIR /src
COPY . .
# The binaries are copied out of the cache mount: a cache mount is not part of
# the image layer, so /src/target is empty once this RUN finishes.
RUN --mount=type=cache,id=tracing-workshop-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=tracing-workshop-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=tracing-workshop-target-${TARGETPLATFORM},target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p api-gateway -p order-service -p user-service -p inventory-service -p lab \
 && mkdir -p /out \
 && cp target/release/api-gateway target/release/order-service \
       target/release/user-service target/release/inventory-service target/release/lab /out/

FROM ${RUNTIME_IMAGE} AS runtime
# reqwest, sqlx and redis are built without TLS: no OpenSSL or CA bundle needed.
RUN groupadd --system --gid 10001 workshop \
 && useradd --system --uid 10001 --gid workshop --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin workshop
# config/sampling.yaml is found relative to the working directory; compose
# also bind-mounts ./config over /app/config so edits are seen live.
WORKDIR /app
COPY config/ /app/config/
COPY --from=build /out/ /usr/local/bin/
USER workshop
EXPOSE 8080 8081 8082 8083
# No HEALTHCHECK here: the image runs four different services; each compose
# service runs `<its binary> --health` (GET 127.0.0.1:$PORT/health).
CMD ["/usr/local/bin/api-gateway"]
