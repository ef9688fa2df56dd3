"""Where the page's work per Run goes: a CPU profile and a Chrome trace around one run of a big graph.

Opens bench_canvas's generated graph (500 nodes by default) in the real app, then records one computed run
and one cached run with CDP's Profiler (JS self time, sampled) and Tracing (devtools.timeline: style recalc,
layout, paint, GC, ...), and prints
- the page's main-thread work (TaskDuration) for the run and for the same wait on an idle page (the floor of
  the measurement: Playwright's polling and the settle loop cost something too);
- trace time by event name (top-level main-thread slices);
- JS self time by script (Gradio's bundle, the canvas's inline code, ...) and the top functions.
Usage: python bench/profile_canvas_run.py [NODES]   (PROFILE_VIEW=bench: at 100 % zoom as bench_canvas runs;
PROFILE_SAVE=DIR: raw traces; PROFILE_TIMELINE=1: the tasks in order; PROFILE_INVALIDATIONS=1; PROFILE_CALLERS=1; PROFILE_CSS=...)
"""
from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from bench.bench_canvas import (EXECUTOR_TIMES, app_page, busy_ms, centre_node, open_graph, settle,  # noqa: E402
                                timed_executor, wait_run_end)

TRACE_CATEGORIES = ["devtools.timeline", "v8.execute", "disabled-by-default-devtools.timeline", "blink.user_timing"]
if os.environ.get("PROFILE_INVALIDATIONS"):  # which script call dirtied style/layout (costs trace time itself)
    TRACE_CATEGORIES += ["disabled-by-default-devtools.timeline.invalidationTracking",
                         "disabled-by-default-devtools.timeline.stack"]


def record(page, action) -> tuple[float, dict, list]:
    """(TaskDuration ms, CPU profile, trace events) of `action()` followed by settling."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 200})
    events: list = []
    done = []
    cdp.on("Tracing.dataCollected", lambda p: events.extend(p["value"]))
    cdp.on("Tracing.tracingComplete", lambda p: done.append(1))
    cdp.send("Tracing.start", {"traceConfig": {"includedCategories": TRACE_CATEGORIES}, "transferMode": "ReportEvents"})
    cdp.send("Profiler.start")
    before = busy_ms(cdp)
    action()
    busy = busy_ms(cdp) - before
    profile = cdp.send("Profiler.stop")["profile"]
    cdp.send("Tracing.end")
    deadline = time.time() + 30
    while not done and time.time() < deadline:
        page.wait_for_timeout(100)
    cdp.detach()
    return busy, profile, events


def main_thread_slices(events: list) -> list[dict]:
    """The complete slices of the renderer's main thread, in order (a parent before the slices inside it)."""
    main = [e for e in events if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"]
    tids = {(e["pid"], e["tid"]) for e in main}
    return sorted((e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) in tids and "dur" in e),
                  key=lambda e: (e["ts"], -e["dur"]))


def self_times(slices: list[dict]) -> collections.Counter:
    """Self time (ms) per event name of ordered `slices`: nested slices are subtracted from their parent."""
    by_name: collections.Counter = collections.Counter()
    stack: list[list] = []
    for e in slices:
        start, end = e["ts"], e["ts"] + e["dur"]
        while stack and stack[-1][1] <= start:
            stack.pop()
        if stack:
            by_name[stack[-1][2]] -= e["dur"] / 1000
        by_name[e["name"]] += e["dur"] / 1000
        stack.append([start, end, e["name"]])
    return by_name


def trace_summary(events: list) -> list[tuple[str, float]]:
    """Total self time of the renderer main thread's slices, by name (ms)."""
    return sorted(self_times(main_thread_slices(events)).items(), key=lambda kv: -kv[1])


def task_timeline(events: list, min_ms: float = 1.0) -> list[tuple[float, float, str, list]]:
    """The renderer main thread's top-level tasks of at least `min_ms`, in order: (start ms, duration ms,
    what started it, self time by event name inside it) -- which frame or event the work is in."""
    slices = main_thread_slices(events)
    tasks: list[list] = []
    for e in slices:
        if not tasks or e["ts"] >= tasks[-1][0]["ts"] + tasks[-1][0]["dur"]:
            tasks.append([e, []])
        else:
            tasks[-1][1].append(e)
    rows = []
    for top, inner in tasks:
        if top["dur"] / 1000 < min_ms:
            continue
        what = ""
        for e in [top] + inner:
            data = e.get("args", {}).get("data", {})
            if e["name"] == "EventDispatch":
                what = data.get("type", "")
            elif e["name"] == "FunctionCall":
                what = (data.get("functionName") or "(anonymous)") + "@" + str(data.get("url", "")).rsplit("/", 1)[-1][:24]
            if what:
                break
        by_name = self_times([top] + inner)
        rows.append(((top["ts"] - slices[0]["ts"]) / 1000, top["dur"] / 1000, what,
                     [(k, v) for k, v in by_name.most_common(6) if v >= 0.3]))
    return rows


def profile_summary(profile: dict) -> tuple[list, list]:
    """JS self time (ms) by script URL and by function (name @ script:line)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_us: dict[int, float] = collections.Counter()
    for sample, delta in zip(profile.get("samples", []), deltas[1:] + [0]):
        self_us[sample] += delta
    by_url: dict[str, float] = collections.Counter()
    by_fn: dict[str, float] = collections.Counter()
    for nid, us in self_us.items():
        frame = nodes[nid]["callFrame"]
        url = frame.get("url") or "(" + frame.get("functionName", "") + ")"
        short = url.rsplit("/", 1)[-1][:60] or url
        by_url[short] += us / 1000
        by_fn[f"{frame.get('functionName') or '(anonymous)'} @ {short}:{frame.get('lineNumber', 0) + 1}"] += us / 1000
    return (sorted(by_url.items(), key=lambda kv: -kv[1]), sorted(by_fn.items(), key=lambda kv: -kv[1]))


def frame_name(node: dict) -> str:
    frame = node["callFrame"]
    url = (frame.get("url") or "").rsplit("/", 1)[-1][:40]
    return f"{frame.get('functionName') or '(anonymous)'}@{url}:{frame.get('lineNumber', 0) + 1}:{frame.get('columnNumber', 0)}"


def callers(profile: dict, depth: int = 6, top: int = 12) -> list[tuple[str, float]]:
    """Self time (ms) by the chain of callers (innermost last, `depth` frames): who causes the work."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    deltas = profile.get("timeDeltas", [])
    chains: dict[str, float] = collections.Counter()
    for sample, delta in zip(profile.get("samples", []), deltas[1:] + [0]):
        name = frame_name(nodes[sample])
        if name.startswith(("(idle)", "(program)")):
            continue
        chain, nid = [], sample
        while nid in nodes and len(chain) < depth:
            chain.append(frame_name(nodes[nid]))
            nid = parent.get(nid)
        chains[" < ".join(chain)] += delta / 1000
    return sorted(chains.items(), key=lambda kv: -kv[1])[:top]


def report(title: str, busy: float, profile: dict, events: list, top: int = 25) -> None:
    print(f"\n=== {title}: page work {busy:.0f} ms")
    print("trace self time by event (ms):")
    for name, ms in trace_summary(events)[:top]:
        if ms >= 1:
            print(f"  {ms:8.1f}  {name}")
    urls, fns = profile_summary(profile)
    print("JS profile self time by script (ms):")
    for url, ms in urls[:12]:
        if ms >= 1:
            print(f"  {ms:8.1f}  {url}")
    print("JS profile self time by function (ms):")
    for fn, ms in fns[:top]:
        if ms >= 1:
            print(f"  {ms:8.1f}  {fn}")
    if os.environ.get("PROFILE_TIMELINE"):
        print("main-thread tasks of 1 ms or more (start ms, ms, started by, self time inside):")
        for start, ms, what, inside in task_timeline(events):
            print(f"  {start:8.1f} {ms:6.1f}  {what[:36]:36s} " + ", ".join(f"{k} {v:.1f}" for k, v in inside))
    if os.environ.get("PROFILE_CALLERS"):
        print("JS self time by caller chain (ms):")
        for chain, ms in callers(profile):
            print(f"  {ms:8.1f}  {chain}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with app_page(chromium, timed_executor(tmp), tmp) as page:
            open_graph(page, tmp, count)
            if os.environ.get("PROFILE_VIEW") == "bench":  # bench_canvas's view for its runs: 100 %, n1 in the middle
                page.click('[data-action="zoom-reset"]')
                centre_node(page, "n1")
            if os.environ.get("PROFILE_CSS"):  # an experiment: extra CSS put into the page first
                page.add_style_tag(content=os.environ["PROFILE_CSS"])
            settle(page)
            idle, profile, events = record(page, lambda: (page.wait_for_timeout(300), settle(page)))
            report("idle page, the same wait and settle (the measurement's floor)", idle, profile, events, top=8)
            for label in ("computed run", "cached run", "cached again run"):
                page.evaluate("() => { delete document.querySelector('.fw-root').dataset.runStatus; }")
                ran = len(EXECUTOR_TIMES)
                button = page.locator('[data-action="run"]').bounding_box()  # as bench_canvas's measure_run clicks
                at = (button["x"] + button["width"] / 2, button["y"] + button["height"] / 2)
                busy, profile, events = record(page, lambda: (page.mouse.click(*at), wait_run_end(page), settle(page)))
                if os.environ.get("PROFILE_SAVE"):  # raw profile and trace, for Chrome's DevTools
                    stem = Path(os.environ["PROFILE_SAVE"]) / label.replace(" ", "-")
                    stem.with_suffix(".cpuprofile").write_text(json.dumps(profile))
                    stem.with_suffix(".trace.json").write_text(json.dumps({"traceEvents": events}))
                report(f"{label} of {count} nodes (executor {sum(EXECUTOR_TIMES[ran:]):.0f} ms)", busy, profile, events)


if __name__ == "__main__":
    main()
