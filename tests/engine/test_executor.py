"""The executor's behaviour as a user sees it: what runs, what is served from cache, errors, interrupt."""
import threading

import pytest

from flux_core import Executor, RunFailed, RunInterrupted, WorkflowError

from . import testpack
from .conftest import doc


def chain(x=1.0, y=2.0, ids=("x", "y", "add", "out")):
    x_id, y_id, add_id, out_id = ids
    return doc([(x_id, "Number", {"value": x}), (y_id, "Number", {"value": y}), (add_id, "Add", {}),
                (out_id, "Sink", {})],
               [(x_id, "value", add_id, "a"), (y_id, "value", add_id, "b"), (add_id, "sum", out_id, "value")])


def ran():
    return [nid for nid, _ in testpack.RUNS]


def test_first_run_executes_everything_and_returns_outputs(registry):
    result = Executor(registry).run(chain())
    assert sorted(result.executed) == ["add", "out", "x", "y"]
    assert result.outputs["add"]["sum"] == 3.0
    assert result.ui["out"] == {"value": 3.0}
    assert set(result.timings) == set(result.executed)
    assert ran().index("add") > max(ran().index("x"), ran().index("y"))


def test_second_identical_run_executes_only_the_output_node(registry):
    ex = Executor(registry)
    ex.run(chain())
    testpack.reset()
    result = ex.run(chain())
    # an output node's result belongs to its run (never shared between clients); its inputs are cached
    assert result.executed == ["out"] and sorted(result.cached) == ["add", "x", "y"]
    assert ran() == ["out"]
    assert result.outputs["add"]["sum"] == 3.0 and result.ui["out"] == {"value": 3.0}


def test_changing_one_widget_reruns_that_node_and_descendants_only(registry):
    ex = Executor(registry)
    ex.run(chain())
    testpack.reset()
    result = ex.run(chain(y=5.0))
    assert sorted(result.executed) == ["add", "out", "y"]
    assert result.cached == ["x"]
    assert result.outputs["add"]["sum"] == 6.0


def test_renumbered_and_moved_nodes_keep_every_result(registry):
    ex = Executor(registry)
    ex.run(chain())
    renamed = chain(ids=("n1", "n2", "n3", "n4"))
    for node in renamed["nodes"]:
        node["ui"] = {"pos": [100, 200]}
    renamed["nodes"].reverse()
    result = ex.run(renamed)
    assert result.executed == ["n4"]  # only the output node, which runs on every run
    assert result.outputs["n3"]["sum"] == 3.0


def test_identical_branches_share_one_result(registry):
    d = doc([("a", "Number", {"value": 4}), ("b", "Number", {"value": 4}), ("s1", "Sink", {}), ("s2", "Sink", {})],
            [("a", "value", "s1", "value"), ("b", "value", "s2", "value")])
    result = Executor(registry).run(d)
    assert len(result.cached) == 1 and result.cached[0] in ("a", "b")  # one Number computed, one reused
    assert sorted(set(result.executed) - {"a", "b"}) == ["s1", "s2"] and len(result.executed) == 3


def test_partial_execution_runs_only_what_the_requested_output_needs(registry):
    d = doc([("x", "Number", {"value": 1}), ("y", "Number", {"value": 2}), ("sx", "Sink", {}), ("sy", "Sink", {})],
            [("x", "value", "sx", "value"), ("y", "value", "sy", "value")])
    result = Executor(registry).run(d, outputs=["sy"])
    assert sorted(result.executed) == ["sy", "y"]
    assert "sx" not in result.outputs
    # an intermediate node may be a target too
    result = Executor(registry).run(chain(), outputs=["add"])
    assert sorted(result.executed) == ["add", "x", "y"]


def test_unknown_partial_target_is_a_validation_error(registry):
    with pytest.raises(WorkflowError) as e:
        Executor(registry).run(chain(), outputs=["nope"])
    assert e.value.problems[0].node == "nope"


def test_error_stops_the_run_names_the_node_and_keeps_finished_results(registry):
    d = doc([("x", "Number", {"value": 1}), ("f", "Fail", {"fail": 1}), ("out", "Sink", {})],
            [("x", "value", "f", "value"), ("f", "value", "out", "value")])
    ex = Executor(registry)
    events = []
    with pytest.raises(RunFailed) as e:
        ex.run(d, listener=events.append)
    assert e.value.node_id == "f" and e.value.node_type == "Fail" and e.value.input == "fail"
    assert "asked to fail" in str(e.value)
    assert e.value.result.executed == ["x"]
    failed = [ev for ev in events if ev["type"] == "node_failed"]
    assert failed and failed[0]["node"] == "f" and failed[0]["message"] == "asked to fail"
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "error"
    # fix the failing widget: the run resumes from the failure, x is not executed again
    testpack.reset()
    d["nodes"][1]["widgets"]["fail"] = 0
    result = ex.run(d)
    assert result.cached == ["x"] and sorted(result.executed) == ["f", "out"]


def test_events_arrive_in_order_for_subscribers_and_per_run_listeners(registry):
    ex = Executor(registry)
    seen, per_run = [], []
    unsubscribe = ex.subscribe(seen.append)
    d = doc([("x", "Number", {}), ("s", "Steps", {"steps": 3}), ("out", "Sink", {})],
            [("x", "value", "s", "value"), ("s", "value", "out", "value")])
    ex.run(d, listener=per_run.append)
    assert seen == per_run
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    progress = [(e["value"], e["max"]) for e in seen if e["type"] == "node_progress"]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    s_events = [e["type"] for e in seen if e.get("node") == "s"]
    assert s_events == ["node_started", "node_progress", "node_progress", "node_progress", "node_finished"]
    finished = [e for e in seen if e["type"] == "node_finished"]
    assert all(e["seconds"] >= 0 for e in finished)
    unsubscribe()
    ex.run(d)
    assert [e["type"] for e in seen].count("run_started") == 1
    cached_run = []
    ex.run(d, listener=cached_run.append)
    assert [e["type"] for e in cached_run].count("node_cached") == 2
    assert [e["node"] for e in cached_run if e["type"] == "node_started"] == ["out"]


def test_a_listener_that_raises_does_not_break_the_run(registry):
    def broken(event):
        raise RuntimeError("display crashed")

    result = Executor(registry).run(chain(), listener=broken)
    assert result.outputs["add"]["sum"] == 3.0


def test_interrupt_stops_a_long_node_and_the_cache_stays_consistent(registry):
    ex = Executor(registry)
    d = doc([("x", "Number", {}), ("s", "Steps", {"steps": 5, "wait": 1}), ("out", "Sink", {})],
            [("x", "value", "s", "value"), ("s", "value", "out", "value")])
    outcome = {}

    def runner():
        try:
            ex.run(d)
        except RunInterrupted as e:
            outcome["error"] = e

    started = threading.Event()
    ex.subscribe(lambda e: started.set() if e["type"] == "node_progress" else None)
    t = threading.Thread(target=runner)
    t.start()
    assert started.wait(10)
    ex.interrupt()
    testpack.GATE.set()
    t.join(10)
    err = outcome["error"]
    assert err.node_id == "s" and err.result.status == "interrupted"
    assert "s" not in err.result.executed and "out" not in err.result.outputs
    # the next run is not interrupted, reuses x and completes s
    testpack.reset()
    testpack.GATE.set()
    result = ex.run(d)
    assert result.cached == ["x"] and sorted(result.executed) == ["out", "s"]


def test_interrupt_between_nodes(registry):
    ex = Executor(registry)

    def stop_after_x(event):
        if event["type"] == "node_finished" and event["node"] == "x":
            ex.interrupt()

    with pytest.raises(RunInterrupted) as e:
        ex.run(chain(), listener=stop_after_x)
    assert "x" in e.value.result.executed and "out" not in e.value.result.executed


def test_fingerprint_reruns_a_node_whose_file_changed(registry, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("one")
    d = doc([("r", "FileStamp", {"path": str(f)}), ("out", "Sink", {})], [("r", "text", "out", "value")])
    ex = Executor(registry)
    assert ex.run(d).ui["out"] == {"value": "one"}
    assert ex.run(d).executed == ["out"]
    f.write_text("two, longer")
    result = ex.run(d)
    assert sorted(result.executed) == ["out", "r"] and result.ui["out"] == {"value": "two, longer"}


def test_overrides_change_widgets_for_one_run(registry):
    ex = Executor(registry)
    result = ex.run(chain(), overrides={"y.value": "10"})
    assert result.outputs["add"]["sum"] == 11.0
    with pytest.raises(WorkflowError) as e:
        ex.run(chain(), overrides={"y.value": "ten", "ghost.value": 1, "y.nothing": 2})
    messages = [str(p) for p in e.value.problems]
    assert len(messages) == 3, messages
    assert any("ghost" in m for m in messages) and any("nothing" in m for m in messages)


def test_memory_budget_evicts_least_recently_used_results(registry):
    ex = Executor(registry, cache_bytes=25_000)

    def blob(tag):
        return doc([("b", "Blob", {"size": 10_000, "tag": tag}), ("out", "Sink", {})], [("b", "blob", "out", "value")])

    ex.run(blob(1))
    ex.run(blob(2))
    ex.run(blob(1))  # touch 1 so 2 is the least recently used
    ex.run(blob(3))
    assert ex.cache.total_bytes <= 25_000
    testpack.reset()
    assert ex.run(blob(1)).executed == ["out"]
    assert "b" in ex.run(blob(2)).executed


def test_results_a_run_still_needs_are_pinned_even_over_budget(registry):
    # budget smaller than one blob: the blob must survive until its consumer has run
    ex = Executor(registry, cache_bytes=5_000)
    d = doc([("b", "Blob", {"size": 10_000}), ("out", "Sink", {})], [("b", "blob", "out", "value")])
    result = ex.run(d)
    assert len(result.ui["out"]["value"]) == 10_000
    assert ex.cache.total_bytes <= 5_000  # unpinned after the run, then evicted


def test_invalid_document_runs_nothing(registry):
    d = chain()
    d["nodes"].append({"id": "bad", "type": "Number", "widgets": {"value": 5000}})
    with pytest.raises(WorkflowError):
        Executor(registry).run(d)
    assert testpack.RUNS == []


def test_workflow_without_output_nodes_is_refused(registry):
    with pytest.raises(WorkflowError) as e:
        Executor(registry).run(doc([("x", "Number", {})]))
    assert e.value.problems[0].code == "no_outputs"


def test_signature_cost_is_linear(registry):
    """A 2000-node chain validates and hashes quickly (ComfyUI's keys grow with n^2)."""
    n = 2000
    nodes = [("n0", "Number", {})] + [(f"n{i}", "Add", {}) for i in range(1, n)] + [("out", "Sink", {})]
    links = [(f"n{i-1}", "value" if i == 1 else "sum", f"n{i}", "a") for i in range(1, n)]
    links.append((f"n{n-1}", "sum", "out", "value"))
    ex = Executor(registry)
    graph = ex.validate(doc(nodes, links))
    sigs = ex.signatures(graph, graph.order)
    assert len(set(sigs.values())) == n + 1  # every prefix of the chain is a different computation
    result = ex.run(doc(nodes, links))
    assert result.outputs[f"n{n-1}"]["sum"] == 1.0


def test_rerunning_an_unchanged_document_still_notices_a_removed_choice(registry):
    d = doc([("p", "Pick", {"name": "b.safetensors"}), ("out", "Sink", {})], [("p", "name", "out", "value")])
    ex = Executor(registry)
    assert ex.run(d).ui["out"] == {"value": "b.safetensors"}
    assert ex.run(d).executed == ["out"]
    testpack.AVAILABLE.remove("b.safetensors")
    with pytest.raises(WorkflowError) as e:
        ex.run(d)
    assert (e.value.problems[0].node, e.value.problems[0].input) == ("p", "name")
    # an edited document is checked from scratch, of course
    d["nodes"][0]["widgets"]["name"] = "a.safetensors"
    assert ex.run(d).ui["out"] == {"value": "a.safetensors"}
