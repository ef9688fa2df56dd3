"""What the shared server accepts, checked before any work starts, and answered as a clear error.

Three doors: the HTTP body (refused by its declared length before it is read or parsed, so a huge
document cannot hold the server for seconds), the document (node and link counts before validation),
and every call from the browser (`answers_cleanly`: an unexpected error becomes a message, never an
HTTP 500). Picture limits live with the upload code in `canvas`.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

from flux_core.graph.limits import MAX_LINKS, MAX_NODES  # the engine's document limits, one place
from flux_core.graph.workflow import Problem, WorkflowError

MAX_FILE_BYTES = 16 * 1024 * 1024  # a workflow JSON or a picture sent from the browser
# one request: a file above as base64 (4/3 larger) plus the JSON around it
MAX_REQUEST_BYTES = MAX_FILE_BYTES * 4 // 3 + 1024 * 1024


def request_too_large(size: int) -> str:
    return (f"the request is {size:,} bytes; this server accepts at most {MAX_REQUEST_BYTES:,} "
            f"(files up to {MAX_FILE_BYTES // (1024 * 1024)} MB)")


class RequestSizeLimit:
    """ASGI middleware: refuse HTTP bodies over `limit` bytes before the application reads them.

    A declared Content-Length over the limit is answered 413 at once; a body without one (chunked) is
    cut off when it passes the limit, which the application sees as the client going away."""

    def __init__(self, app, limit: int = MAX_REQUEST_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
        if declared is not None and declared > self.limit:
            return await _send_json(send, 413, {"error": request_too_large(declared)})
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, limited_receive if declared is None else receive, send)


async def _send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def check_document_size(graph: Any) -> None:
    """Raise a WorkflowError when a decoded document has more nodes or links than fluxwire accepts.

    Cheap (two lengths), so it runs before parsing and validation, which grow with the document."""
    if not isinstance(graph, dict):
        return
    for key, most in (("nodes", MAX_NODES), ("links", MAX_LINKS)):
        items = graph.get(key)
        if isinstance(items, (list, dict)) and len(items) > most:
            raise WorkflowError([Problem(f"the document has {len(items):,} {key}; fluxwire accepts at most "
                                         f"{most:,}", code="too_large")])


def answers_cleanly(fn: Callable[..., dict]) -> Callable[..., dict]:
    """A server function whose unexpected errors come back as {"ok": False, "message"} (never HTTP 500)."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WorkflowError as e:
            return {"ok": False, "workflow": None, "name": None, "message": str(e),
                    "problems": [p.to_dict() for p in e.problems]}
        except (Exception, RecursionError) as e:  # noqa: BLE001 - the browser gets a sentence instead
            message = f"{fn.__name__.replace('_', ' ')} failed: {type(e).__name__}: {str(e)[:300]}"
            return {"ok": False, "workflow": None, "name": None, "message": message,
                    "problems": [Problem(message, code="server_error").to_dict()]}
    return guarded
