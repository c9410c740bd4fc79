# The platform_assets image: one image, five roles (deploy/platform-role): the webserver, the
# daemon, the code server (gRPC, the default command), the scoring service and the run task
# (the EcsRunLauncher's `dagster api execute_run ...`). deploy/ecs/platform-assets.yaml gives
# each role's task its command and its own health check; the image has none of its own, so
# no role inherits a check written for another (docs/deploy.md).
#   docker build -t platform-assets .
#   docker build --build-arg BASE_IMAGE=<your mirror of the base> -t platform-assets .
#   docker run platform-assets webserver|daemon|code-server|scoring
#
# BASE_IMAGE: Debian bookworm with Python 3.11 (the version requirements.image.lock is
# compiled for) as `python3`, with its venv module. The default is Docker Hub's
# python:3.11-slim-bookworm pinned by digest: the digest was taken from public files that
# record it and could not be checked against the registry from where this was written
# (docs/deploy.md "The base image"). The build test uses a debootstrap-made bookworm instead.
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Build: every dependency from the hashed image lock (pip refuses a file whose hash is not in
# it), then the project itself with the locked build backend and nothing fetched.
FROM ${BASE_IMAGE} AS build
# Where pip finds the wheels, when not PyPI: a team's mirror (PIP_INDEX_URL), or a folder of
# wheels served over HTTP with PIP_NO_INDEX=1 (the build test serves the ones it fetched on the
# host). The hashes in the lock are checked whatever the source.
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The lock alone first: its layer (the slow one) is reused while only the code changes.
COPY requirements.image.lock ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet --require-hashes --no-deps --only-binary=:all: \
        -r requirements.image.lock
# The files the wheel is built from, nothing else (platform_assets_tests/production/test_image.py
# builds a wheel from exactly these COPY sources and serves the code location from it).
COPY pyproject.toml README.md dagster.yaml ./
COPY platform_assets ./platform_assets
COPY contracts ./contracts
COPY runbooks ./runbooks
COPY evals ./evals
COPY deploy/dagster.yaml deploy/workspace.yaml deploy/platform-role ./deploy/
# The project's wheel, kept out of /opt/venv so that the venv's layer below stays the same.
RUN /opt/venv/bin/pip wheel --quiet --no-deps --no-index --no-build-isolation -w /src/dist .

# Run: the virtual environment, the project, the instance and workspace config, as an
# unprivileged user.
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH=/opt/venv/bin:$PATH \
    PLATFORM_ASSETS_HOME=/var/lib/platform-assets \
    DAGSTER_HOME=/opt/dagster/home \
    PLATFORM_ASSETS_CODE_SERVER_HOST=code-server \
    PLATFORM_ASSETS_CODE_SERVER_PORT=4000
RUN groupadd --system --gid 10001 platform \
    && useradd --system --uid 10001 --gid platform --home-dir /var/lib/platform-assets \
        --shell /usr/sbin/nologin platform \
    && mkdir -p /var/lib/platform-assets /opt/dagster/home \
    && chown platform:platform /var/lib/platform-assets
# The dependencies (a layer that changes only with the lock), then the project on top.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/dist /tmp/dist
RUN pip install --quiet --no-deps --no-index /tmp/dist/*.whl && rm -rf /tmp/dist && pip check
COPY --from=build /src/deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY --from=build /src/deploy/workspace.yaml /opt/dagster/workspace.yaml
COPY --from=build /src/deploy/platform-role /usr/local/bin/platform-role
USER platform
WORKDIR /var/lib/platform-assets
# 3000 webserver, 4000 code server (gRPC), 8080 scoring service.
EXPOSE 3000 4000 8080
HEALTHCHECK NONE
ENTRYPOINT ["platform-role"]
CMD ["code-server"]
