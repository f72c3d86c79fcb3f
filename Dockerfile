# The release worker, and the `rollout` CLI beside it (docker compose run worker node bin/rollout.js …).
# Built by docker-compose.yml; runs as an unprivileged user, stops on SIGTERM. No Java and no
# time-skipping server: `rollout simulate --runs N` works here; a single simulated run needs
# TEMPORAL_TEST_SERVER_PATH or the internet (the SDK downloads the server).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-workflows.ts ./scripts/
# tsc, then the workflow bundle the worker loads at start (dist/workflow-bundle.js): no webpack in production.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# Two malloc arenas, not eight per core: the SDK's threads otherwise spread the worker's native memory
# over many half-empty arenas (bench:scale --memory at 1,000 releases: native memory 649 -> 456-519 MiB;
# README, "What one worker carries").
ENV MALLOC_ARENA_MAX=2
# jemalloc, not glibc's malloc, under the worker: on glibc what the SDK's core and its bridge free stays in
# the process, 200 to 260 KiB of RSS for every workflow the worker caches (npm run bench:malloc; README,
# "What one worker carries").
# Linked to one path on every architecture; the worker logs `allocator: jemalloc` at start.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
  && ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json ./
USER node
CMD ["node", "dist/workers/main.js"]
