# syntax=docker/dockerfile:1
# Zipwire container image: a build stage with the Rust toolchain, and a small Debian
# runtime stage holding only the binaries, run as an unprivileged user.
#
#   docker build -t zipwire .
#   docker run -p 9411:9411 zipwire

ARG RUST_VERSION=1.85
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# librdkafka (Kafka collector) is built from source by rdkafka-sys with configure and
# make; the full Rust image has the C toolchain it needs, and links zlib, which the
# slim runtime image has too.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin zipwire --bin zipwire-healthcheck \
    && install -D target/release/zipwire target/release/zipwire-healthcheck -t /out

FROM debian:${DEBIAN_RELEASE}-slim
# CA certificates for TLS to PostgreSQL, Kafka or an OTLP endpoint.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 zipwire \
    && useradd --system --uid 10001 --gid zipwire --no-create-home --shell /usr/sbin/nologin zipwire
COPY --from=build /out/zipwire /out/zipwire-healthcheck /usr/local/bin/
USER 10001:10001
ENV QUERY_PORT=9411 \
    LOG_FORMAT=json
EXPOSE 9411
# /health is UP only when storage answers; the check reads QUERY_PORT like the server.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/zipwire-healthcheck"]
# SIGTERM (docker stop) starts a graceful shutdown bounded by SHUTDOWN_TIMEOUT (20s by
# default); give `docker stop -t` / Kubernetes' grace period a few seconds more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/zipwire"]
