# One image for every Coinstream role; docker-compose.yml picks the role per container.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY eventkit ./eventkit
COPY services ./services
COPY infra ./infra
COPY scripts ./scripts
RUN pip install --no-cache-dir -e .
ENV HOST=0.0.0.0
