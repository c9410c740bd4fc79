# The platform_assets code location as a gRPC code server (the webserver and the daemon of
# deploy/docker-compose.yml run from the same image with other commands). The production
# instance (deploy/dagster.yaml) is $DAGSTER_HOME/dagster.yaml; configuration is environment
# only (README "Production").
#   docker build -t platform-assets .
#   docker run -p 4000:4000 -e PLATFORM_ASSETS_PROFILE=production -e PLATFORM_ASSETS_PG_URL=... \
#       -e PLATFORM_ASSETS_S3_URL=s3://bucket/prefix platform-assets

# Build: the project and its dependencies, pinned by requirements.lock, into /opt/venv.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
WORKDIR /src
# The files the wheel is built from, nothing else (platform_assets_tests/production/test_image.py
# builds a wheel from exactly these COPY sources and serves the code location from it).
COPY pyproject.toml requirements.lock README.md dagster.yaml ./
COPY platform_assets ./platform_assets
COPY contracts ./contracts
COPY runbooks ./runbooks
COPY evals ./evals
COPY deploy/dagster.yaml ./deploy/dagster.yaml
# -c: every package the project needs, at the version requirements.lock pins (the lock also
# pins the dev tools, which are not installed).
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv venv /opt/venv \
    && uv pip install --python /opt/venv/bin/python --no-cache -c requirements.lock .

# Run: the virtual environment and the instance config, as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PLATFORM_ASSETS_HOME=/var/lib/platform-assets \
    DAGSTER_HOME=/opt/dagster/home
RUN groupadd --system --gid 10001 platform \
    && useradd --system --uid 10001 --gid platform --home-dir /var/lib/platform-assets --shell /usr/sbin/nologin platform \
    && mkdir -p /var/lib/platform-assets /opt/dagster/home \
    && chown platform:platform /var/lib/platform-assets
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/deploy/dagster.yaml /opt/dagster/home/dagster.yaml
USER platform
WORKDIR /var/lib/platform-assets
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "platform_assets.definitions"]
