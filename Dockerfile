# syntax=docker/dockerfile:1
# Spark Runner image: one image, three entry points (api, worker, watcher = the worker, which runs the status
# watch; with WATCH_LEASE_NAMESPACE set only the Lease holder watches). Select one with the command, e.g.
#   docker run IMAGE node --import tsx bin/api.ts
# Build arg WITH_SPARK=true adds Java + pyspark for the local backend.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:${NODE_VERSION}-slim AS runtime
# Java 17 + pyspark for the local backend. Note: bin/runtime.ts currently provisions Spark in every process, so
# images built with WITH_SPARK=false only start once that check is made conditional.
ARG WITH_SPARK=true
ARG PYSPARK_VERSION=4.0.1
RUN if [ "$WITH_SPARK" = "true" ]; then \
      apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-pip procps \
      && pip3 install --no-cache-dir --break-system-packages "pyspark==${PYSPARK_VERSION}" \
      && ln -s "$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" /opt/spark \
      && rm -rf /var/lib/apt/lists/*; \
    fi
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=8080 \
    SPARK_RUNNER_CACHE=/home/node/.cache/spark-runner \
    SPARK_RUNNER_DATA=/var/lib/spark-runner \
    SPARK_HOME=/opt/spark \
    SPARK_PYTHON=python3
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node . .
RUN mkdir -p /var/lib/spark-runner /home/node/.cache/spark-runner && chown -R node:node /var/lib/spark-runner /home/node/.cache
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["bin/api.ts"]
