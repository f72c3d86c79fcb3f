# The release worker, and the `rollout` CLI beside it (docker compose run worker node bin/rollout.js …).
# Built by docker-compose.yml; runs as an unprivileged user, stops on SIGTERM.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json ./
USER node
CMD ["node", "dist/workers/main.js"]
