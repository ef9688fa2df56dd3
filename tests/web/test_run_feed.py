"""The pages' run feed (web/run_feed.py) on a real server, read over real HTTP, with states from real runs."""
from __future__ import annotations

import json
import queue
import secrets
import threading
import time

import httpx
import pytest

from web.run_feed import FEED_PATH, KEY_HEADER, RunFeeds, feed_key_from_event
from web.runner import CanvasRunner

from .canvas_helpers import launch_app


def doc(nodes, links=()):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "t"},
            "nodes": [{"id": i, "type": t, "widgets": w} for i, t, w in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


CHAIN = doc([("a", "IntValue", {"value": 4}), ("m", "Math", {"b": 2.0, "op": "multiply"}),
             ("slow", "SlowSteps", {"steps": 4, "delay": 0.08}), ("s", "ShowValue", {}), ("t", "ShowValue", {})],
            [("a", "value", "m", "a"), ("m", "result", "s", "value"), ("slow", "count", "t", "value")])


@pytest.fixture
def server(executor):
    demo, url = launch_app(executor)
    yield demo, url.rstrip("/")
    demo.close()


class FeedReader:
    """Reads one feed stream in a thread; `messages` receives each data line, parsed."""

    def __init__(self, url: str, key: str):
        self.messages: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.opened = threading.Event()
        self._client = httpx.Client(timeout=30)
        self._thread = threading.Thread(target=self._read, args=(url, key), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "the feed did not answer"

    def _read(self, url, key):
        try:
            with self._client.stream("GET", url + FEED_PATH, headers={KEY_HEADER: key}) as res:
                self.status = res.status_code
                self.opened.set()
                for line in res.iter_lines():
                    if line.startswith("data: "):
                        self.messages.put(json.loads(line[6:]))
        except (httpx.HTTPError, RuntimeError):  # closed by close()
            pass
        finally:
            self.opened.set()

    def take_until_final(self, timeout=30.0) -> list[dict]:
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            got.append(msg)
            if msg["status"] != "running":
                return got
        raise AssertionError(f"no final state in {got}")

    def close(self):
        self._client.close()
        self._thread.join(5)


def merged(messages: list[dict]) -> dict:
    """What the page builds from the messages (run_feed.js mergeFeedMessage)."""
    run: dict = {"nodes": {}}
    for msg in messages:
        run.update({k: v for k, v in msg.items() if k not in ("nodes", "seq", "delta")})
        run["nodes"].update(msg["nodes"])
    return run


def wait_listening(feeds, key, want=True):
    deadline = time.monotonic() + 10
    while feeds.listening(key) != want:
        assert time.monotonic() < deadline, f"listening({key}) never became {want}"
        time.sleep(0.02)


def test_a_run_streams_only_changed_nodes_and_adds_up_to_the_whole_state(server, executor, publisher):
    demo, url = server
    feeds = demo.fluxwire_canvas.run_feeds
    key = secrets.token_hex(16)
    reader = FeedReader(url, key)
    try:
        assert reader.status == 200
        wait_listening(feeds, key)
        follower = feeds.follower(key, "session-1")
        runner = CanvasRunner(executor, publisher, yield_interval=0.05)
        states = []
        for state in runner.run(CHAIN, session="session-1"):
            assert follower.send(state)
            states.append(json.loads(json.dumps(state)))
        messages = reader.take_until_final()
    finally:
        reader.close()
    assert len(messages) == len(states) >= 3  # the slow node's steps give several states
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert merged(messages) == {**states[-1], "nodes": states[-1]["nodes"]}
    assert merged(messages)["nodes"]["s"]["text"] == repr(8.0)
    for before, after, msg in zip(states, states[1:], messages[1:]):
        changed = {n for n in after["nodes"] if after["nodes"][n] != before["nodes"].get(n)}
        assert set(msg["nodes"]) == changed  # only what changed, never the unchanged nodes again
    assert any(len(m["nodes"]) < len(states[-1]["nodes"]) for m in messages[1:])


def test_a_stream_opened_after_a_gap_starts_with_the_whole_last_state(server, executor, publisher):
    """A page whose stream broke (or reopened just as the run ended) rebuilds the exact state: the new
    stream's first message is the key's last state, whole, and the deltas after it add up to the final one."""
    demo, url = server
    feeds = demo.fluxwire_canvas.run_feeds
    key = secrets.token_hex(16)
    follower = feeds.follower(key, "session-1")
    runner = CanvasRunner(executor, publisher, yield_interval=0.05)
    states = list(json.loads(json.dumps(s)) for s in runner.run(CHAIN, session="session-1"))
    assert len(states) >= 3
    first = FeedReader(url, key)
    try:
        wait_listening(feeds, key)
        assert follower.send(states[0])
        assert first.messages.get(timeout=10)["nodes"] == states[0]["nodes"]
    finally:
        first.close()
    wait_listening(feeds, key, want=False)  # a closed stream is forgotten
    for state in states[1:-1]:
        assert follower.send(state) is False  # nobody listens: kept, not lost
    later = FeedReader(url, key)
    try:
        wait_listening(feeds, key)
        got = [later.messages.get(timeout=10)]
        assert got[0]["nodes"] == states[-2]["nodes"]  # every node of the last state, not a delta
        assert follower.send(states[-1])
        got += later.take_until_final()
    finally:
        later.close()
    assert merged(got) == states[-1]
    final = FeedReader(url, key)  # the run is over: a stream opened now still gets its final state
    try:
        msg = final.messages.get(timeout=10)
    finally:
        final.close()
    assert msg["status"] == states[-1]["status"] == "success" and msg["nodes"] == states[-1]["nodes"]
    # the gallery's pictures of the ended run: only for the session owning the key, only for that run
    assert feeds.results(key, "session-1", states[-1]["run_id"]) == states[-1]["images"]
    assert feeds.results(key, "session-2", states[-1]["run_id"]) is None
    assert feeds.results(key, "session-1", "another-run") is None
    assert feeds.results(None, "session-1", states[-1]["run_id"]) is None
    other = FeedReader(url, secrets.token_hex(16))  # another key gets nothing of it
    try:
        with pytest.raises(queue.Empty):
            other.messages.get(timeout=0.5)
    finally:
        other.close()


def test_a_key_belongs_to_the_session_that_ran_with_it_first(server):
    demo, url = server
    feeds = demo.fluxwire_canvas.run_feeds
    key = secrets.token_hex(16)
    mine = feeds.follower(key, "session-1")
    assert mine is not None
    assert feeds.follower(key, "session-2") is None  # another session cannot feed (or read) this page's runs
    assert feeds.follower(key, None) is None
    assert feeds.follower(key, "session-1") is not None
    # keys are 128-bit hex only: anything else is no key at all
    assert feed_key_from_event({"feed": key}) == key
    for bad in ("", "abc", key.upper(), key + "0", "../" + key[3:], 12345, None):
        assert feed_key_from_event({"feed": bad}) is None
    assert feed_key_from_event("feed") is None


def test_the_feed_refuses_a_request_without_a_proper_key(server):
    demo, url = server
    for headers in ({}, {KEY_HEADER: "x" * 32}, {KEY_HEADER: "0" * 31}):
        res = httpx.get(url + FEED_PATH, headers=headers, timeout=10)
        assert res.status_code == 400
        assert KEY_HEADER in res.text


def test_feeds_of_two_keys_never_mix():
    import asyncio

    feeds = RunFeeds()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)  # the server's loop, as in the route
    thread.start()
    try:
        a, b = secrets.token_hex(16), secrets.token_hex(16)
        la, lb = feeds.listen(a, loop), feeds.listen(b, loop)
        state = {"run_id": "r1", "status": "running", "nodes": {"x": {"status": "queued"}}}
        assert feeds.follower(a, "s-a").send(state)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)  # the hand-over has run
        assert la.queue.qsize() == 1 and lb.queue.qsize() == 0
        lb2 = feeds.listen(b, loop)  # a stream opened later for b still gets nothing of a's run
        assert lb2.queue.qsize() == 0
        feeds.forget(la)
        assert not feeds.listening(a) and feeds.listening(b)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
