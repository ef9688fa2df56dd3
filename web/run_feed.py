"""The canvas page's own channel for run states: only what changed, outside Gradio's prop updates.

Why: Gradio's page handles every prop update, output and loading status of a component by copying all of
the component's data (the whole workflow document, leaf by leaf) and comparing old and new props as JSON
text. With 500 nodes that is ~20-250 ms of the page's time for each streamed run state, whatever changed.
The page therefore follows its runs on a small stream of its own (`FEED_PATH`, server-sent events on the
same server) that carries, per state, the run's fields and only the nodes whose state changed since the
last message, and starts its runs with an event in which the canvas is neither input nor output
(`run_page`, NodeCanvas.wire).

Keys: the page makes a random key (32 hex digits, 128 bits, `crypto.getRandomValues`), opens the stream with
the key in the `X-Fluxwire-Feed` header, and sends the key with each Run (the event data, like the run's
targets and document). A run's states go only to the streams opened with the key its Run carried, and a
key belongs to the Gradio session that first ran with it: another session cannot read (or feed) a page's
runs without its key, which never leaves that page and the server. A stream opened for a key starts with
the key's last state (its latest run, whole), so a stream that breaks and reopens, even just as the run
ends, loses nothing.

Serving: `mount_run_feed(app, canvas.run_feeds)` adds the route to a running app; fluxwire's own `launch`
does it. The page asks the canvas (a server function) whether the route is there before opening a stream;
without one (an app that embeds the canvas without the route, a stream that is down) the page runs with
`run_graph`, which takes the value and streams the documented cumulative `run_state` prop. Gradio's queue,
Stop, and "a page that goes away stops its run" hold for both events. Plain API clients use `run_graph`.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from fastapi import Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from .runner import gallery_images

FEED_PATH = "/fluxwire/run-feed"
KEY_HEADER = "X-Fluxwire-Feed"
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
KEEPALIVE_SECONDS = 10.0  # a comment line this often, so proxies and the page see a live stream
KEYS_KEPT = 4096  # key -> session bindings remembered (oldest forgotten first)
LAST_STATES_KEPT = 32  # keys whose last run state is kept for a stream that reopens (oldest forgotten first)


def feed_key_from_event(data: Any) -> str | None:
    """The feed key a Run carried in its event data, if it is one (32 lowercase hex digits)."""
    key = data.get("feed") if isinstance(data, dict) else None
    return key if isinstance(key, str) and KEY_PATTERN.fullmatch(key) else None


class FeedListener:
    """One open stream: messages are handed to its event loop from the run's thread."""

    def __init__(self, key: str, loop: asyncio.AbstractEventLoop):
        self.key = key
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def put(self, text: str) -> bool:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, text)
        except RuntimeError:  # the loop is closed: the server is stopping
            return False
        return True


class RunFeeds:
    """The open streams by feed key, which session each key belongs to, and each key's last state.

    The last state (the whole cumulative state of the key's latest run, as one message) is what a stream
    opened for the key gets first: a page whose stream broke and reopened mid-run, or just as the run
    ended, rebuilds the exact state from it instead of showing "running" forever."""

    def __init__(self):
        self.mounted = False  # set by mount_run_feed: only then does the page open a stream (no 404s)
        self._lock = threading.Lock()
        self._listeners: dict[str, list[FeedListener]] = {}
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._last: OrderedDict[str, str] = OrderedDict()
        self._results: dict[str, tuple[str, list[str]]] = {}  # key -> (its last ended run, that run's images)

    def listen(self, key: str, loop: asyncio.AbstractEventLoop) -> FeedListener:
        """A new stream for `key` (called on `loop`); it starts with the key's last state, if any."""
        listener = FeedListener(key, loop)
        with self._lock:
            self._listeners.setdefault(key, []).append(listener)
            last = self._last.get(key)
            if last is not None:
                listener.queue.put_nowait(last)
        return listener

    def forget(self, listener: FeedListener) -> None:
        with self._lock:
            kept = [x for x in self._listeners.get(listener.key, []) if x is not listener]
            if kept:
                self._listeners[listener.key] = kept
            else:
                self._listeners.pop(listener.key, None)

    def listening(self, key: str) -> bool:
        with self._lock:
            return bool(self._listeners.get(key))

    def follower(self, key: str | None, session: str | None) -> "RunFollower | None":
        """A sender of one run's states to `key`'s streams, or None (no key, no session, or the key is
        another session's)."""
        if not key or not session:
            return None
        with self._lock:
            owner = self._owners.get(key)
            if owner is None:
                self._owners[key] = owner = session
                while len(self._owners) > KEYS_KEPT:
                    self._owners.popitem(last=False)
            else:
                self._owners.move_to_end(key)
        return RunFollower(self, key) if owner == session else None

    def results(self, key: str | None, session: str | None, run_id: Any) -> list[str] | None:
        """The images of `key`'s last run if it is `run_id` and has ended, for the session owning the key;
        else None."""
        with self._lock:
            if not key or not session or self._owners.get(key) != session:
                return None
            ended = self._results.get(key)
        return list(ended[1]) if ended and ended[0] == run_id else None

    def publish(self, key: str, delta: str, whole: str, ended: tuple[str, list[str]] | None = None) -> bool:
        """Hand `delta` to every stream open for `key` and keep `whole` for streams opened later (one step
        under the lock with `listen`: a stream gets either the delta or a whole state that includes it).
        False when no stream is open."""
        with self._lock:
            self._last[key] = whole
            self._last.move_to_end(key)
            while len(self._last) > LAST_STATES_KEPT:
                self._results.pop(self._last.popitem(last=False)[0], None)
            if ended is not None:
                self._results[key] = ended
            listeners = list(self._listeners.get(key, []))
        delivered = False
        for listener in listeners:
            delivered = listener.put(delta) or delivered
        return delivered


class RunFollower:
    """Turns one run's cumulative states into messages holding only the nodes that changed."""

    def __init__(self, feeds: RunFeeds, key: str):
        self.feeds = feeds
        self.key = key
        self.seq = 0
        self._sent: dict[str, str] = {}  # node id -> its state as last sent (JSON text)

    def send(self, state: dict) -> bool:
        """Send what changed in `state`; False when no stream is open for the key (a stream opened later
        starts with this whole state, so nothing is lost)."""
        nodes = {}
        for nid, node in state.get("nodes", {}).items():
            text = json.dumps(node, sort_keys=True, separators=(",", ":"))
            if self._sent.get(nid) != text:
                self._sent[nid] = text
                nodes[nid] = node
        self.seq += 1
        message = {key: value for key, value in state.items() if key != "nodes"}
        message.update(seq=self.seq, delta=True)
        whole = dict(message, nodes=state.get("nodes", {}))
        message["nodes"] = nodes
        images = gallery_images(state)  # what the page's gallery shows once the run has ended
        ended = None if images is None else (state.get("run_id"), images)
        return self.feeds.publish(self.key, json.dumps(message, separators=(",", ":")),
                                  json.dumps(whole, separators=(",", ":")), ended)


def mount_run_feed(app, feeds: RunFeeds) -> None:
    """Add the feed's route to an already running app (Gradio's), ahead of its own routes."""
    async def run_feed(request: Request):
        key = request.headers.get(KEY_HEADER, "")
        if not KEY_PATTERN.fullmatch(key):
            return PlainTextResponse(f"{KEY_HEADER} must be 32 lowercase hex digits", status_code=400)
        listener = feeds.listen(key, asyncio.get_running_loop())

        async def stream():
            try:
                yield ": open\n\n"
                while True:
                    try:
                        text = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": alive\n\n"
                        continue
                    yield "data: " + text + "\n\n"
            finally:
                feeds.forget(listener)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    before = len(app.router.routes)
    app.add_api_route(FEED_PATH, run_feed, methods=["GET"], include_in_schema=False)
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added
    feeds.mounted = True


_FEEDS_BY_CANVAS: dict[int, RunFeeds] = {}
_FEEDS_LOCK = threading.Lock()


def feeds_for(canvas_id: int) -> RunFeeds:
    """The one RunFeeds of a canvas component, shared by the copies Gradio makes of it (same id)."""
    with _FEEDS_LOCK:
        return _FEEDS_BY_CANVAS.setdefault(canvas_id, RunFeeds())
