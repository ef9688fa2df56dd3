"""Serving the API: on its own (`fluxwire api`, no UI) or next to the canvas (`fluxwire serve`).

Either way there is one `ApiService` per executor, so the canvas and the API share one queue.
"""
from __future__ import annotations

import sys
import threading
import time

from fastapi import FastAPI
from starlette.middleware import Middleware

from flux_core.graph.executor import Executor

from ..limits import MAX_REQUEST_BYTES, RequestSizeLimit
from .routes import make_router
from .security import needs_token, new_token
from .service import ApiService

DESCRIPTION = ("Submit fluxwire (or ComfyUI) workflows, follow their events, fetch results, manage the queue. "
               "See docs/api.md.")


def token_for(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token the server will demand (None: none) and whether it was generated here."""
    if token:
        return token, False
    if needs_token(host):
        return new_token(), True
    return None, False


def build_api(executor: Executor, *, token: str | None = None, service: ApiService | None = None,
              comfyui_compat: bool = False, remote=None) -> FastAPI:
    """A FastAPI app with the API under /api, OpenAPI at /api/openapi.json and docs at /api/docs.
    `remote`: a `ray_jobs.RayPool` the jobs run on (`--ray`); None runs them on `executor`."""
    service = service or ApiService(executor, remote=remote)
    app = FastAPI(title="fluxwire API", description=DESCRIPTION, docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json",
                  middleware=[Middleware(RequestSizeLimit, limit=MAX_REQUEST_BYTES)])
    app.include_router(make_router(service, token))
    if comfyui_compat:
        from .comfyui_compat import make_compat_router

        app.include_router(make_compat_router(service, token))
    app.state.fluxwire_service = service
    return app


def mount_api(app, executor: Executor, *, token: str | None = None, comfyui_compat: bool = False,
              remote=None) -> ApiService:
    """Add the API routes (and its docs) to an already running app (Gradio's), ahead of its own routes."""
    service = ApiService(executor, remote=remote)
    api = build_api(executor, token=token, service=service, comfyui_compat=comfyui_compat)
    before = len(app.router.routes)
    for route in api.router.routes:
        app.router.routes.append(route)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added
    return service


def run_uvicorn(app, host: str, port: int):
    """Start uvicorn in a thread; returns (server, thread, port actually bound) once it listens."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio",
                            timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fluxwire-api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the API server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, bound


def announce_token(token: str | None, generated: bool, host: str) -> None:
    if token and generated:
        print(f"fluxwire: {host} is reachable from other machines; API token (send as "
              f"'Authorization: Bearer TOKEN'): {token}", file=sys.stderr, flush=True)


def serve_api(executor: Executor, host: str = "127.0.0.1", port: int = 7861, token: str | None = None,
              *, block: bool = True, comfyui_compat: bool = False, remote=None):
    """`fluxwire api`: the API without the canvas."""
    token, generated = token_for(host, token)
    announce_token(token, generated, host)
    app = build_api(executor, token=token, comfyui_compat=comfyui_compat, remote=remote)
    server, thread, bound = run_uvicorn(app, host, port)
    print(f"fluxwire API on http://{host}:{bound}/api (docs: /api/docs)", file=sys.stderr, flush=True)
    if block:
        try:
            thread.join()
        except KeyboardInterrupt:
            server.should_exit = True
            thread.join(timeout=10)
        app.state.fluxwire_service.close()
    return server, thread, bound, token
