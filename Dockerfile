# syntax=docker/dockerfile:1
#
# Gatehouse images. Two targets:
#   docker build --target host    -t gatehouse:0.1.0 .          # the ext_authz server (+ gatehouse-verify)
#   docker build --target plugins -t gatehouse-plugins:0.1.0 .  # the bundled plugin .so files
#
# The plugins image is meant as an init container: its default command copies the .so
# files into /auth-plugins (a volume shared with the host container, which reads
# GATEHOUSE_PLUGIN_DIR=/auth-plugins). Plugins do NOT have to come from the host's build:
# the interface is a checked, versioned C ABI, so a plugin built elsewhere (another
# repository, rustc, SDK release) loads when gatehouse-verify from the host image accepts
# it. plugins/template/Dockerfile builds such a third-party plugin image. The bundled
# plugins below are checked the same way, with gatehouse-verify from this very host
# image, before the plugins image is produced.
#
# Where the binaries come from:
#   default                       the `builder` stage compiles them (release, --locked)
#   --build-arg ARTIFACTS=prebuilt dist/bin/ and dist/plugins/ of the build context, as
#                                 scripts/build-host.sh and scripts/build-plugins.sh lay
#                                 them out (scripts/images.sh, which CI runs where no Rust
#                                 image can be pulled, stages such a context)
#
# Keep target/, .tools/ and dist/ out of the default build context (.dockerignore).

ARG ARTIFACTS=builder

# --- builder: release builds through the same scripts CI runs --------------------------
# The host is profile-guided (scripts/build-host.sh --pgo: an instrumented build trained
# on the benchmark's chain by h2load, from Debian's nghttp2-client; ~20 % fewer
# instructions per request, BENCHMARKS.md); `gatehouse --version` names its profile.
FROM rust:1-bookworm AS builder
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nghttp2-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build-host.sh --pgo --locked \
 && scripts/build-plugins.sh --locked

# --- prebuilt: the same layout, taken from the build context ---------------------------
FROM scratch AS prebuilt
COPY dist/ /src/dist/

# --- artifacts: whichever of the two ARTIFACTS names -----------------------------------
FROM ${ARTIFACTS} AS artifacts

# --- host: gatehouse (and gatehouse-verify) on a slim Debian, as a non-root user -------
FROM debian:bookworm-slim AS host
# ca-certificates unpinned: a pinned Debian revision leaves the archive at the next point
# release and would break every build.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /auth-plugins /etc/gatehouse
# dist/bin holds gatehouse and gatehouse-verify.
COPY --from=artifacts /src/dist/bin/ /usr/local/bin/
COPY deploy/demo/auth-configs.yaml /etc/gatehouse/auth-configs.yaml
ENV GATEHOUSE_CONFIG=/etc/gatehouse/auth-configs.yaml \
    GATEHOUSE_PLUGIN_DIR=/auth-plugins \
    GATEHOUSE_LISTEN=0.0.0.0:8083 \
    GATEHOUSE_ADMIN_LISTEN=0.0.0.0:9090 \
    GATEHOUSE_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8083 9090
ENTRYPOINT ["/usr/local/bin/gatehouse"]

# --- plugins-verified: the bundled .so files, proven to load into the host image -------
# verify/ci/verify-plugins.sh: interface version, layouts, exports, the shipped configs
# and their request cases. A failure here stops the build: no plugins image.
FROM host AS plugins-verified
COPY --from=artifacts /src/dist/plugins/ /plugins/
COPY verify/ci/ /src/verify/ci/
COPY deploy/demo/auth-configs.yaml /src/deploy/demo/auth-configs.yaml
RUN VERIFY=/usr/local/bin/gatehouse-verify PLUGIN_DIR=/plugins /src/verify/ci/verify-plugins.sh

# --- plugins: only the .so files, copied to /auth-plugins when run ---------------------
# Each file is copied under a temporary name and renamed, so a host watching the
# directory never sees a half-written library.
FROM busybox:1.36 AS plugins
COPY --from=plugins-verified /plugins/ /plugins/
# A fresh Docker volume mounted here takes this owner, so the non-root copy can write.
RUN mkdir /auth-plugins && chown 10001:10001 /auth-plugins
USER 10001:10001
CMD ["sh", "-ec", "for f in /plugins/*.so; do n=${f##*/}; cp \"$f\" \"/auth-plugins/.$n.tmp\"; mv -f \"/auth-plugins/.$n.tmp\" \"/auth-plugins/$n\"; done; ls -l /auth-plugins"]
