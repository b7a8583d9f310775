# syntax=docker/dockerfile:1.7
# One image per service, from one multi-stage file:
#   docker build --build-arg SERVICE=gateway -t wapi/gateway .
# SERVICE is one of: gateway webhook-ingest message-sender compliance vault meta-sandbox.
# The image holds no secret: credentials and internal-auth keys come at run time from the
# environment or from files (NAME_FILE), as docker-compose.yml provides them.
# packages/testkit/test/deploy-files.test.ts runs this file's deploy step and CMD for real
# (without Docker), so keep them in the shape it parses: one `RUN pnpm ... deploy ... /out`
# line and an exec-form CMD.

ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@12.4.2 && pnpm --version
WORKDIR /repo

FROM base AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<service>" && false)
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm turbo run build --filter="@wapi/${SERVICE}"
# Workspace packages are bundled into dist/ by tsup; deploy installs only the app's
# third-party runtime dependencies beside it, copied (not linked) into /out. --legacy:
# pnpm's newer deploy requires inject-workspace-packages=true for the whole workspace.
RUN pnpm --filter="@wapi/${SERVICE}" deploy --prod --legacy /out

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production HOST=0.0.0.0 SERVICE=${SERVICE}
WORKDIR /app
COPY --from=build --chown=node:node /out/ ./
COPY --from=build --chown=node:node /repo/packages/contracts/src/services.json ./services.json
# Non-root: the official image's unprivileged `node` user (uid 1000, which compose's
# internal-keys step gives each service's key files to).
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const port=process.env.PORT||require('./services.json')[process.env.SERVICE].port;fetch('http://127.0.0.1:'+port+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
