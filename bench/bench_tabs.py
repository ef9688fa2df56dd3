"""Switching canvas tabs in a real browser: the time from a click on a tab to the next painted frame.

Starts the real app in this process, opens a generated graph of N nodes (bench_canvas.big_graph) in one
tab and a 20-node graph in a second tab, then switches between them several times, measuring in the page
the canvas's own work (synchronous), the time to the next frame's callback and the time until that frame's
style, layout and paint are done (what the user waits for). The 20-node switch, measured the same
way in the same browser, is the reference. Needs /usr/bin/chromium (or CHROMIUM_PATH).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_canvas import measure_in_browser, open_graph  # noqa: E402

# three times per switch: the canvas's own (synchronous) work, the start of the next frame, and the end of that
# frame's style, layout and paint (a message posted from the frame callback is handled after them)
SWITCH = """(index) => new Promise((done) => {
    const label = document.querySelectorAll('[data-role="tabs"] [data-action="switch-tab"]')[index];
    const t0 = performance.now();
    label.click();
    const sync = performance.now() - t0;
    requestAnimationFrame(() => {
      const frame = performance.now() - t0;
      const after = new MessageChannel();
      after.port1.onmessage = () => done([sync, frame, performance.now() - t0]);
      after.port2.postMessage(null);
    }); })"""


def measure(page, tmp: Path, count: int, rounds: int = 5) -> dict:
    page.evaluate("() => { localStorage.clear(); }")
    page.reload()
    page.wait_for_selector('.fw-root[data-ready="1"]')
    open_graph(page, tmp, count)
    page.click('[data-action="new-tab"]')
    open_graph(page, tmp, 20)
    to_big, to_small = [], []
    for _ in range(rounds):
        to_big.append(page.evaluate(SWITCH, 0))
        assert page.locator(".fw-node").count() == count
        page.wait_for_timeout(300)
        to_small.append(page.evaluate(SWITCH, 1))
        assert page.locator(".fw-node").count() == 20
        page.wait_for_timeout(300)
    return {"nodes": count, "switch_sync_ms": statistics.median(s[0] for s in to_big),
            "switch_ms": statistics.median(s[1] for s in to_big),
            "switch_painted_ms": statistics.median(s[2] for s in to_big),
            "back_ms": statistics.median(s[1] for s in to_small),
            "back_painted_ms": statistics.median(s[2] for s in to_small)}


def main() -> None:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(path):
        print(f"bench_tabs: no Chromium at {path}; skipped")
        return
    from flux_core.graph.executor import Executor

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        executor = Executor(output_dir=tmp / "out", models_dir=tmp / "models")
        small, large = measure_in_browser(path, executor, tmp, measure)
    for r in (small, large):
        print(f"{r['nodes']:4d}-node tab: switch to it {r['switch_ms']:.0f} ms to the next frame, "
              f"{r['switch_painted_ms']:.0f} ms to that frame painted ({r['switch_sync_ms']:.0f} ms in the canvas's "
              f"own code); back to the 20-node tab {r['back_ms']:.0f} / {r['back_painted_ms']:.0f} ms")
    print(f"500 nodes against 20: switch ratio {large['switch_ms'] / max(small['switch_ms'], 0.1):.1f}x")


if __name__ == "__main__":
    main()
