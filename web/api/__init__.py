"""fluxwire's headless HTTP API: REST endpoints, live job events, one queue shared with the canvas.

Modules: `service` (jobs on the shared RunBoard), `history` (SQLite), `routes` (HTTP), `security`
(token), `server` (standalone app and mounting next to the canvas). Docs: docs/api.md.
"""
from .server import build_api, mount_api, serve_api  # noqa: F401
from .service import ApiService  # noqa: F401
