# One image for every Coinstream role; docker-compose.yml picks the role per container.
# The dashboard's charting library from its committed npm lock (no CDN at run time, no Node in
# the final image), where the read API looks for it (.cache/node/dashboard, infra/node.py).
FROM node:20-slim AS dashboard-assets
WORKDIR /assets
COPY tools/dashboard/package.json tools/dashboard/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

FROM python:3.11-slim
WORKDIR /app
# The dependencies from the hashed lock first (their layer survives a change of the code), then
# the project itself, editable and without dependencies of its own.
COPY requirements/run.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/run.lock
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY policy ./policy
COPY eventkit ./eventkit
COPY services ./services
COPY infra ./infra
COPY scripts ./scripts
COPY --from=dashboard-assets /assets/node_modules/echarts/dist/echarts.min.js ./.cache/node/dashboard/node_modules/echarts/dist/
RUN pip install --no-cache-dir --no-deps -e .
ENV HOST=0.0.0.0
