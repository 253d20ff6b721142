# The operator image: also the image of the workers it schedules (dedup-upload,
# restore, replication), which start other entrypoints under dist/.
#
# BASE_IMAGE is any Debian-based image with Node.js (the supported major is in
# package.json "engines") under /usr/local, as the official node images have
# it. The test bed builds this file with buildah on a base it makes itself
# (e2e/testbed/images.ts), since it reaches no container registry.
ARG BASE_IMAGE=node:26-bookworm-slim

FROM ${BASE_IMAGE} AS build
# zstd-napi compiles its native addon when its prebuilt binary cannot be
# downloaded; these are what node-gyp needs, against the base's own headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY operator ./operator
COPY scripts/bundle-operator.mjs ./scripts/
RUN npx tsc -p tsconfig.image.json && node scripts/bundle-operator.mjs && npm prune --omit=dev

FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# 65532 is the conventional "nonroot" user; the chart also sets runAsNonRoot.
USER 65532:65532
# The operator runs as one bundle (scripts/bundle-operator.mjs says why); the
# workers' entry points, which Jobs name in their command, stay under dist/operator.
ENTRYPOINT ["node", "/app/dist/bundle/main.js"]
