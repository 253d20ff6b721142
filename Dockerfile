# The operator image: also the image of the workers it schedules (dedup-upload,
# image conversion, replication), which start other entrypoints under dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY operator ./operator
RUN npx tsc -p tsconfig.image.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# 65532 is the conventional "nonroot" user; the chart also sets runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/operator/src/main.js"]
