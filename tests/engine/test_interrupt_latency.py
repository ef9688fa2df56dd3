"""Stop means stop: a node that never reports progress cannot hold a run (or the server) for its whole length.

The nodes come from a real plugin folder, as a user's custom nodes would. They would take 60 s; each test
releases them at the end so no thread outlives it.
"""
from __future__ import annotations

import threading
import time

import pytest

from flux_core import Executor, RunInterrupted
from flux_core.graph.registry import discover

from .conftest import doc

PACK = '''
import threading
import time

from flux_core.graph.node import Input, Int, Node, Output

RELEASE = threading.Event()  # set by the test when it is done (no node checks an interrupt flag)
STARTED = threading.Event()
FINISHED = []  # node types whose 60 s of work came to an end


class Sleep60(Node):
    """Sleeps for 60 s and never reports progress."""
    inputs = [Int("seconds", 60, min=1, max=600)]
    outputs = [Output("value", "INT")]

    def run(self, ctx, seconds):
        STARTED.set()
        RELEASE.wait(seconds)
        FINISHED.append("Sleep60")
        return seconds


class Compute60(Node):
    """Multiplies matrices for 60 s and never reports progress."""
    inputs = [Int("seconds", 60, min=1, max=600)]
    outputs = [Output("value", "INT")]

    def run(self, ctx, seconds):
        import torch

        STARTED.set()
        end, x = time.monotonic() + seconds, torch.ones(64, 64)
        while time.monotonic() < end and not RELEASE.is_set():
            x = (x @ x).clamp(-1, 1)
        FINISHED.append("Compute60")
        return int(x.sum().item())


class Keep(Node):
    """An output node that shows its input."""
    output_node = True
    inputs = [Input("value", "INT")]
    outputs = []

    def run(self, ctx, value):
        ctx.show(text=str(value))
        return {}


NODES = [Sleep60, Compute60, Keep]
'''


@pytest.fixture
def pack(tmp_path):
    folder = tmp_path / "custom_nodes"
    folder.mkdir()
    (folder / "never_look_up.py").write_text(PACK)
    reg = discover(folder, entry_points=False)
    assert "Sleep60" in reg, reg.problems
    module = __import__(reg.get("Sleep60").__module__, fromlist=["RELEASE"])
    yield reg, module
    module.RELEASE.set()


def graph(node_type: str, seconds: int = 60) -> dict:
    return doc([("work", node_type, {"seconds": seconds}), ("keep", "Keep", {})],
               [("work", "value", "keep", "value")])


@pytest.mark.parametrize("node_type", ["Sleep60", "Compute60"])
def test_interrupt_returns_within_a_second_from_a_node_that_never_reports_progress(pack, tmp_path, node_type):
    reg, module = pack
    ex = Executor(reg, output_dir=tmp_path / "out")
    events, outcome = [], {}

    def run():
        try:
            ex.run(graph(node_type), listener=events.append)
        except RunInterrupted as e:
            outcome["error"] = e
        outcome["ended"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    assert module.STARTED.wait(30)
    time.sleep(0.3)  # well inside the node's 60 s
    asked = time.monotonic()
    ex.interrupt()
    t.join(10)
    assert not t.is_alive(), "the run kept going after interrupt()"
    latency = outcome["ended"] - asked
    assert latency < 1.0, f"interrupt() took {latency:.2f} s to end the run"
    error = outcome["error"]
    assert error.node_id == "work" and error.result.status == "interrupted"
    assert error.result.executed == [] and "keep" not in error.result.outputs
    assert [e["type"] for e in events][-1] == "run_interrupted"
    assert module.FINISHED == []  # the node's thread was left behind, not waited for

    # the abandoned node's result is dropped, never cached; its thread sends no more events
    module.RELEASE.set()
    deadline = time.monotonic() + 10
    while node_type not in module.FINISHED and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert [e["type"] for e in events][-1] == "run_interrupted"
    result = ex.run(graph(node_type, seconds=1))  # a different signature: really runs (RELEASE is set)
    assert result.executed == ["work", "keep"]
    module.FINISHED.clear()
    result = ex.run(graph(node_type))  # the interrupted graph: its node must run, not come from the cache
    assert "work" in result.executed and module.FINISHED == [node_type]


def test_interrupt_before_any_node_and_between_runs(pack, tmp_path):
    reg, module = pack
    module.RELEASE.set()
    ex = Executor(reg, output_dir=tmp_path / "out")
    ex.interrupt()  # no run going on: nothing to stop, and the next run is not affected
    assert ex.run(graph("Sleep60", seconds=2)).executed == ["work", "keep"]


def test_a_node_calling_sys_exit_fails_with_its_name(tmp_path):
    from flux_core import RunFailed

    folder = tmp_path / "custom_nodes"
    folder.mkdir()
    (folder / "exits.py").write_text(
        "import sys\nfrom flux_core.graph.node import Node, Output\n\n"
        "class Quit(Node):\n    output_node = True\n    outputs = []\n\n"
        "    def run(self, ctx):\n        sys.exit(0)\n\nNODES = [Quit]\n")
    reg = discover(folder, entry_points=False)
    with pytest.raises(RunFailed) as e:
        Executor(reg, output_dir=tmp_path / "out").run(doc([("q", "Quit", {})]))
    assert e.value.node_id == "q" and "sys.exit(0)" in str(e.value)


def test_stopped_runs_cannot_pile_up_threads(pack, tmp_path):
    from flux_core.graph.executor import MAX_ABANDONED

    reg, module = pack
    ex = Executor(reg, output_dir=tmp_path / "out")

    def start_and_stop(seconds: int) -> float:
        """Start a run, stop it once its node computes (or after 1 s); seconds until run() returned."""
        module.STARTED.clear()
        outcome = {}

        def run():
            try:
                ex.run(graph("Sleep60", seconds=seconds))
            except RunInterrupted:
                outcome["interrupted"] = True

        t = threading.Thread(target=run)
        t.start()
        module.STARTED.wait(1.0)
        asked = time.monotonic()
        ex.interrupt()
        t.join(10)
        assert outcome.get("interrupted") and not t.is_alive()
        return time.monotonic() - asked

    for i in range(MAX_ABANDONED):  # each leaves a node sleeping behind
        start_and_stop(60 + i)
        assert module.STARTED.is_set()
    alive = [w for w in ex.abandoned_workers if w.thread.is_alive()]
    assert len(alive) == MAX_ABANDONED
    # the next run waits for them instead of starting a third thread; it can still be stopped at once
    assert start_and_stop(90) < 1.0
    assert not module.STARTED.is_set()  # its node never started
    module.RELEASE.set()
    assert ex.run(graph("Sleep60", seconds=1)).executed == ["work", "keep"]
