# The platform_assets code location as a gRPC code server, e.g. for ECS with
# dagster_aws.ecs.EcsRunLauncher. Point the webserver/daemon workspace at port 4000.
#   docker build -t platform-assets .
#   docker run -p 4000:4000 -e PLATFORM_ASSETS_HOME=/data -v $PWD/data:/data platform-assets
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLATFORM_ASSETS_HOME=/data \
    PLATFORM_ASSETS_CONTRACTS_DIR=/app/contracts \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /app
COPY pyproject.toml requirements.lock README.md dagster.yaml ./
COPY platform_assets ./platform_assets
COPY contracts ./contracts
COPY evals ./evals
RUN pip install --no-cache-dir uv \
    && uv pip install --system --no-cache --compile-bytecode -c requirements.lock . \
    && mkdir -p "$DAGSTER_HOME" /data \
    && cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "platform_assets.definitions"]
