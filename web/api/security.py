"""Who may call the API: anyone on this machine by default; with a token, only those who send it.

The API runs code-heavy work and reads results, so a server reachable from other machines must not be
open: binding anything but 127.0.0.1/::1/localhost requires a token (`--api-token`, or one is generated
and printed). Every request then carries it as `Authorization: Bearer TOKEN`, `X-Fluxwire-Token: TOKEN`
or (for <img> URLs and WebSockets, which cannot set headers) `?token=TOKEN`.
"""
from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException
from starlette.requests import HTTPConnection

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")
CLIENT_HEADER = "x-fluxwire-client"  # who owns a job (the Python client sends a random id per Client)


def needs_token(host: str) -> bool:
    """True unless the server listens on this machine's default loopback address only."""
    return host not in LOCAL_HOSTS


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_of(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return conn.headers.get("x-fluxwire-token") or conn.query_params.get("token")


class TokenCheck:
    """A FastAPI dependency: refuse (401) a request without the server's token; no token set, no check."""

    def __init__(self, token: str | None):
        self.token = token

    def __call__(self, conn: HTTPConnection) -> None:
        if self.token is None:
            return
        sent = token_of(conn)
        if not sent or not hmac.compare_digest(sent.encode(), self.token.encode()):
            raise HTTPException(401, "this server needs its API token: send 'Authorization: Bearer TOKEN' "
                                     "(or ?token=TOKEN)")


def client_of(conn: HTTPConnection) -> str | None:
    """The caller's client id (owner of the jobs it submits), or None for an anonymous caller."""
    value = (conn.headers.get(CLIENT_HEADER) or "").strip()
    return f"api:{value[:100]}" if value else None
