# syntax=docker/dockerfile:1
#
# Gatehouse images. Two targets:
#   docker build --target host    -t gatehouse:dev .           # the ext_authz server
#   docker build --target plugins -t gatehouse-plugins:dev .   # the demo plugin .so files
#
# The plugins image is meant as an init container: its default command copies the .so
# files into /auth-plugins (a volume shared with the host container, which reads
# GATEHOUSE_PLUGIN_DIR=/auth-plugins). Host and plugins must come from the same build
# (same toolchain and interface crate), which this file guarantees.
#
# Keep target/, .tools/ and dist/ out of the build context (.dockerignore).

# --- builder: release builds through the same scripts CI runs --------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# verify proves the fresh .so files load into this very host (interface version,
# type layouts, exports, configs, request cases) before any image is produced.
RUN scripts/build-host.sh --locked \
 && scripts/build-plugins.sh --locked \
 && verify/ci/verify-plugins.sh

# --- host: gatehouse (and gatehouse-verify) on a slim Debian, as a non-root user -------
FROM debian:bookworm-slim AS host
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /auth-plugins /etc/gatehouse
# dist/bin holds gatehouse and, when built, gatehouse-verify.
COPY --from=builder /src/dist/bin/ /usr/local/bin/
COPY deploy/demo/auth-configs.yaml /etc/gatehouse/auth-configs.yaml
ENV GATEHOUSE_CONFIG=/etc/gatehouse/auth-configs.yaml \
    GATEHOUSE_PLUGIN_DIR=/auth-plugins \
    GATEHOUSE_LISTEN=0.0.0.0:8083 \
    GATEHOUSE_ADMIN_LISTEN=0.0.0.0:9090 \
    GATEHOUSE_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8083 9090
ENTRYPOINT ["/usr/local/bin/gatehouse"]

# --- plugins: only the .so files, copied to /auth-plugins when run ---------------------
FROM busybox:1.36 AS plugins
COPY --from=builder /src/dist/plugins/ /plugins/
CMD ["sh", "-c", "mkdir -p /auth-plugins && cp /plugins/*.so /auth-plugins/ && ls -l /auth-plugins"]
