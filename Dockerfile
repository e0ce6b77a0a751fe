# syntax=docker/dockerfile:1
# The tlsmesh image: one binary, `tlsmesh`, for the sidecar, its init step, the
# injector and the certificate controller. Build it in your own pipeline:
#   docker build -t registry.example.com/tlsmesh:0.1.0 .
# then set that reference in deploy/kustomization.yaml (images) and in
# deploy/config/injector.yaml (sidecar.image).
#
# The build stage runs what CI runs (.ci/run): `npm ci` (which also builds the
# native SO_ORIGINAL_DST addon with node-gyp when binding.gyp is there, hence
# python3, make and g++) and `npm run build` (tsc, then the rolldown bundle
# that is the `tlsmesh` binary). Both stages use the same Node major, so the
# addon's ABI matches the runtime.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
RUN npm run build
# V8's code cache for the program (proxy/src/code-cache.ts), so that a sidecar
# starts without compiling: a short demo runs two sidecars, which write it
# beside the bundle; the runtime stage copies it with the bundle (same Node,
# so V8 accepts it). At run time the folder is the image's, read-only to uid
# 1337: nothing is written there; without a cache start-up just compiles.
RUN node dist/bundle/tlsmesh.mjs demo --duration 5 > /dev/null && ls dist/bundle/*.v8cache
# Only what runs: no devDependencies, and an empty build/ when there is no addon.
RUN npm prune --omit=dev --no-audit --no-fund && mkdir -p build

FROM node:${NODE_VERSION}-bookworm-slim
# iptables for `tlsmesh init`, the injected init step that writes the capture rules.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /opt/tlsmesh
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build ./build
# The bundle is the whole program (rolldown.config.mjs); tsc's dist/proxy and
# dist/injector are for the tests. node_modules still serves the packages the
# bundle loads from outside: @kubernetes/client-node, acme-client, http-proxy.
COPY --from=build /src/dist/bundle ./dist/bundle
RUN chmod 0755 dist/bundle/tlsmesh.mjs && ln -s /opt/tlsmesh/dist/bundle/tlsmesh.mjs /usr/local/bin/tlsmesh
# The sidecar's uid: `tlsmesh init` never redirects its traffic. The init step
# runs as root through its own securityContext; nothing else needs root.
USER 1337:1337
ENTRYPOINT ["tlsmesh"]
CMD ["--help"]
