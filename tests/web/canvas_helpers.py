"""Helpers shared by the canvas test modules (not fixtures): ports, Chromium, an in-process server."""
from __future__ import annotations

import os
import shutil
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    if "CHROMIUM_PATH" in os.environ:
        path = os.environ["CHROMIUM_PATH"]
        return path if path and os.path.exists(path) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def launch_app(executor, workflows_dir=None):
    """Start the real app in this process (uvicorn thread) on a free local port; returns (demo, url)."""
    from web.app import build_app, launch

    demo = build_app(executor, workflows_dir=workflows_dir)
    _, url, _ = launch(demo, "127.0.0.1", free_port(), block=False)
    return demo, url.rstrip("/") + "/"
