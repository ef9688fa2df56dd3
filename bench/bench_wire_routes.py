"""Wires drawn across a node (issue 17, "wires routed around nodes where cheap"), counted in a real browser.

Starts the real app, opens the default graph and then every shipped workflow (`workflows/*.json`) through the
canvas's Open button in Debian's Chromium, and counts the wires with a point inside a node other than their own
two ends (the audit test's CROSSINGS walk along each drawn path), out of all wires, and the wires' drawn length
(a detour over or under everything instead of through a free level near its ends is longer); then the same for one
backward wire past a column of nodes (loop_column_graph). Then, on bench_canvas's
generated 500-node graph, drops a node onto the next row's wires and presses Ctrl+Z: the time from the key to the
next frame (the undo re-routes every wire the node's old or new place touches), median of 5; and the frame rate
while dragging that node over those wires.
Run it on two checkouts back to back to compare (it measures whichever `web/` is first on the path).
Needs /usr/bin/chromium (or CHROMIUM_PATH); prints why when it cannot run.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_canvas import (FRAME_RECORDER, VISIBLE_NODE, app_page, median, open_graph, settle,  # noqa: E402
                                timed_executor)

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
TOTAL = "() => document.querySelectorAll('path.fw-wire:not(.fw-wire-temp)').length"
# the drawn length of every wire, canvas px: a detour that goes over or under everything instead of through a
# free level near its ends makes it longer (compare two checkouts; the crossings above must stay 0)
LENGTH = "() => [...document.querySelectorAll('path.fw-wire:not(.fw-wire-temp)')].reduce((s, p) => s + p.getTotalLength(), 0)"


def loop_column_graph() -> dict:
    """A backward wire a -> c past a column of nodes: the level halfway between its ends runs through q (p sits
    right on top of q), a free level lies just under q (test_canvas_routing_e2e's loop-level graph)."""
    at = {"c": ("ShowValue", (0, 600)), "p": ("IntValue", (330, 240)), "q": ("IntValue", (330, 330)),
          "r": ("IntValue", (330, 520)), "a": ("IntValue", (700, 0))}
    nodes = [{"id": k, "type": t, "widgets": {}, "ui": {"pos": list(pos)} | ({"size": [220, 88]} if k in "pqr" else {})}
             for k, (t, pos) in at.items()]
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "loop past a column"}, "nodes": nodes,
            "links": [{"from": "a", "output": "value", "to": "c", "input": "value"}]}


def open_file(page, path: Path) -> None:
    ids = sorted(n["id"] for n in json.loads(path.read_text())["nodes"])
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(path))
    page.wait_for_function("ids => JSON.stringify([...document.querySelectorAll('.fw-node')]"
                           ".map(n => n.dataset.nodeId).sort()) === JSON.stringify(ids)", arg=ids, timeout=60_000)
    page.wait_for_timeout(300)  # pictures and sizes settle; a resize redraws the wires


UNDO_TO_FRAME = """() => new Promise((done) => {
    const t0 = performance.now();
    document.querySelector('.fw-root').dispatchEvent(new KeyboardEvent('keydown', {key: 'z', ctrlKey: true, bubbles: true}));
    requestAnimationFrame(() => done(performance.now() - t0)); })"""


def drag_fps(page, nid: str) -> float:
    """Drag node `nid` for ~2 s over its neighbours' wires (real mouse events): frames per second."""
    where = f"() => document.querySelector('.fw-node[data-node-id=\"{nid}\"]').style.transform"
    start = page.evaluate(where)
    box = page.locator(f'.fw-node[data-node-id="{nid}"] .fw-title').bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.evaluate(FRAME_RECORDER)
    for k in range(120):  # one pointer move per 16 ms, like a real mouse, across the wires of the next row
        page.mouse.move(x + 200 * (k % 40) / 40, y + 150 * ((k // 40) % 2))
        page.wait_for_timeout(16)
    frames = page.evaluate("() => { window.__recording = false; return window.__frames; }")
    moved = page.evaluate(where) != start
    page.mouse.up()
    page.keyboard.press("Control+z")
    assert moved, "the drag did not move the node"
    return (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000)


def undo_move_ms(page, tmp: Path) -> float:
    """Drop a node onto the wires of the row below, then time Ctrl+Z to the next frame; median of 5."""
    open_graph(page, tmp, 500)
    page.click('[data-action="zoom-reset"]')
    nid = page.evaluate(VISIBLE_NODE, 220)
    assert nid, "no node on screen to drag"
    fps = drag_fps(page, nid)
    settle(page)
    title = page.locator(f'.fw-node[data-node-id="{nid}"] .fw-title')
    top_of = f"() => document.querySelector('.fw-node[data-node-id=\"{nid}\"]').style.transform"
    times = []
    for _ in range(5):
        box = title.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        start = page.evaluate(top_of)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y + 150, steps=5)
        page.mouse.up()
        page.locator('[data-role="stage"]').click(position={"x": 5, "y": 5})
        settle(page)
        assert page.evaluate(top_of) != start, "the drag did not move the node"
        times.append(page.evaluate(UNDO_TO_FRAME))
        assert page.evaluate(top_of) == start
        settle(page)
    return median(times), fps


def main() -> None:
    from tests.web.test_canvas_audit_e2e import CROSSINGS

    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        print(f"bench_wire_routes: no Chromium at {chromium}; skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with app_page(chromium, timed_executor(tmp), tmp) as page:
            page.wait_for_timeout(500)
            rows = [("default graph", len(page.evaluate(CROSSINGS)), page.evaluate(TOTAL), page.evaluate(LENGTH))]
            for path in sorted(WORKFLOWS.glob("*.json")):
                open_file(page, path)
                rows.append((path.stem, len(page.evaluate(CROSSINGS)), page.evaluate(TOTAL), page.evaluate(LENGTH)))
            column = tmp / "loop-column.json"
            column.write_text(json.dumps(loop_column_graph()))
            open_file(page, column)
            rows.append(("(a loop past a column)", len(page.evaluate(CROSSINGS)), page.evaluate(TOTAL), page.evaluate(LENGTH)))
            undo_ms, fps = undo_move_ms(page, tmp)
    for name, crossing, total, length in rows:
        print(f"{name:28s} {crossing:3d} of {total:3d} wires drawn across a node, {length:7.0f} px of wire")
    shipped = rows[1:-1]
    print(f"all {len(shipped)} shipped workflows: {sum(r[1] for r in shipped)} of {sum(r[2] for r in shipped)} wires across a node, "
          f"{sum(r[3] for r in shipped):.0f} px of wire")
    print(f"500 nodes: drag {fps:.1f} fps across the next row's wires (target >= 50)")
    print(f"500 nodes: undo of a node dropped onto other wires {undo_ms:.0f} ms to the next frame (median of 5; target <= 50 ms)")


if __name__ == "__main__":
    main()
