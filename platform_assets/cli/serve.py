"""``platform-assets serve``: the scoring service (``core/serving/app.py``) on uvicorn.

Settings come from the environment (``core/settings.py``, ``PLATFORM_ASSETS_SERVING_*``,
``PLATFORM_ASSETS_SLO_*``, ``PLATFORM_ASSETS_CANARY_*``); each worker process loads the
champion, the arm and the online state itself and polls the registry for changes.
"""

from __future__ import annotations

import click

from platform_assets.cli.common import fail_usage


def create_app():
    """The ASGI app of one worker (uvicorn's ``--factory`` target)."""
    from platform_assets.core.serving import SERVICE_OWNER, build_service
    from platform_assets.core.settings import Settings

    return build_service(Settings.from_env(), owner=SERVICE_OWNER).app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Score transactions over HTTP with the registry's champion (POST /v1/score).

    Also GET /v1/model, /healthz, /readyz and /metrics. The service answers /readyz with 503
    until a champion and the online state (features/online_state) exist.
    """
    import uvicorn

    from platform_assets.core.settings import Settings, SettingsError

    if workers < 1:
        fail_usage(f"--workers {workers}: expected 1 or more")
    if not 0 < port < 65536:
        fail_usage(f"--port {port}: expected 1..65535")
    try:
        Settings.from_env()
    except SettingsError as exc:
        fail_usage(str(exc))
    uvicorn.run(
        "platform_assets.cli.serve:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
