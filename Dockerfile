# syntax=docker/dockerfile:1
# Spark Runner image: one image, three entry points, chosen by the command (the entrypoint is `node`):
#   bin/api.js      the REST API on :8080 (the default)
#   bin/worker.js   the Temporal worker (workflows, activities, local Spark runs)
#   bin/watcher.js  the Kubernetes status watcher (one leader per cluster through a Lease); health on :8081
# e.g. `docker run IMAGE bin/worker.js`. /app holds the compiled package that `npm run build` writes to dist/.
# Build arg WITH_SPARK=true adds Java 17 and pyspark for the local backend; without it the image is smaller and
# LOCAL_BACKEND_ENABLED is false, so no process looks for Spark.
# Debian bookworm: it has the openjdk-17 package the local backend's Spark runs on (trixie has only 21 and 25).
ARG NODE_VERSION=20

# Compiles TypeScript and bundles the workflow code (dist/, see bin/build.ts).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG WITH_SPARK=false
ARG PYSPARK_VERSION=4.0.1
RUN case "$WITH_SPARK" in \
      true) apt-get update \
        && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-pip procps \
        && pip3 install --no-cache-dir --break-system-packages "pyspark==${PYSPARK_VERSION}" \
        && ln -s "$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" /opt/spark \
        && rm -rf /var/lib/apt/lists/* ;; \
      false) ;; \
      *) echo "WITH_SPARK must be true or false, not '$WITH_SPARK'" >&2; exit 1 ;; \
    esac
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=8080 \
    WATCHER_HOST=0.0.0.0 \
    WATCHER_PORT=8081 \
    LOCAL_BACKEND_ENABLED=${WITH_SPARK} \
    SPARK_RUNNER_CACHE=/home/node/.cache/spark-runner \
    SPARK_RUNNER_DATA=/var/lib/spark-runner \
    SPARK_HOME=/opt/spark \
    SPARK_PYTHON=python3
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /src/dist/ ./
COPY --chown=node:node examples ./examples
RUN mkdir -p /var/lib/spark-runner /home/node/.cache/spark-runner \
    && chown -R node:node /var/lib/spark-runner /home/node/.cache
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 8080 8081
ENTRYPOINT ["node"]
CMD ["bin/api.js"]
