"""Helpers shared by the canvas test modules (not fixtures): ports, Chromium, an in-process server, a page."""
from __future__ import annotations

import os
import shutil
import socket
from contextlib import contextmanager


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


@contextmanager
def canvas_page(browser, url: str):
    """A fresh browser context showing the canvas at `url`, ready for input; the test fails afterwards if the page
    logged an error.

    `page.dialogs` records (type, message) of every dialog; they are accepted unless the test sets
    `page.answer = False`. `page.problems` lists the page and console errors seen so far."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.problems, pg.dialogs, pg.answer = [], [], True

    def on_dialog(dialog):
        pg.dialogs.append((dialog.type, dialog.message))
        dialog.accept() if pg.answer else dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.goto(url)
    pg.wait_for_selector('.fw-root[data-ready="1"]')
    yield pg
    context.close()
    assert pg.problems == [], "errors in the page"


def sent(page):
    """The document the canvas last sent to Python (the autosave holds the same object, written 250 ms later)."""
    page.wait_for_timeout(400)
    return page.evaluate("() => JSON.parse(localStorage.getItem('fluxwire:autosave:' + location.pathname)).doc")
