# One image for every Coinstream role; docker-compose.yml picks the role per container.
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
RUN pip install --no-cache-dir --no-deps -e .
ENV HOST=0.0.0.0
