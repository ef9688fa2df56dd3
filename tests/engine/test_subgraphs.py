"""Subgraphs: expansion into path ids, caching through instances, nesting, cycles, files and the library,
revisions, promoted widgets and overrides, byte-stable round trips, and structured errors for broken ones."""
import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from flux_core import Executor, RunFailed, WorkflowError, load_workflow
from flux_core.cli import main
from flux_core.graph.subgraph_files import revision_of
from flux_core.graph.workflow import dumps_document, loads_document, parse_document, read_document

from . import testpack
from .conftest import doc

ROOT = Path(__file__).resolve().parents[2]

# y = x + k, where k is a promoted widget (declared default 2) feeding an inner Number node
ADDER = {
    "name": "Add k", "category": "test/subgraphs", "description": "adds k",
    "inputs": [{"name": "x", "type": "FLOAT"},
               {"name": "k", "type": "FLOAT", "default": 2.0, "widget": {"min": 0, "max": 100}}],
    "outputs": [{"name": "y", "type": "FLOAT"}],
    "nodes": [{"id": "k", "type": "Number", "widgets": {"value": 1}}, {"id": "add", "type": "Add", "widgets": {}}],
    "links": [{"from": "@inputs", "output": "x", "to": "add", "input": "a"},
              {"from": "@inputs", "output": "k", "to": "k", "input": "value"},
              {"from": "k", "output": "value", "to": "add", "input": "b"},
              {"from": "add", "output": "sum", "to": "@outputs", "input": "y"}],
}


def instance(nid, ref, **widgets):
    return {"id": nid, "type": "Subgraph", "subgraph": ref, "widgets": widgets}


def two_adders(k1=3.0, k2=None, x=5.0):
    """x -> a1 (k1) -> s1 and x -> a2 (k2) -> s2."""
    d = doc([("n", "Number", {"value": x}), ("s1", "Sink", {}), ("s2", "Sink", {})],
            [("n", "value", "a1", "x"), ("n", "value", "a2", "x"), ("a1", "y", "s1", "value"),
             ("a2", "y", "s2", "value")], subgraphs={"adder": copy.deepcopy(ADDER)})
    d["version"] = 2
    d["nodes"] += [instance("a1", {"id": "adder"}, **({"k": k1} if k1 is not None else {})),
                   instance("a2", {"id": "adder"}, **({"k": k2} if k2 is not None else {}))]
    return d


def runs_of(prefix=""):
    """Node ids computed since RUNS was cleared; output nodes (Sink) are left out: they run on every run by
    design (their result belongs to the run that asked for it), so they say nothing about caching."""
    return sorted(nid for nid, ntype in testpack.RUNS if nid.startswith(prefix) and ntype != "Sink")


def problems(excinfo, code=None):
    return [p for p in excinfo.value.problems if code is None or p.code == code]


# ----------------------------------------------------------------------------- expansion and path ids

def test_instances_run_with_their_own_promoted_values_and_path_ids(registry):
    events = []
    result = Executor(registry).run(two_adders(k1=3.0, k2=None), listener=events.append)
    assert result.ui["s1"]["value"] == 8.0  # 5 + 3
    assert result.ui["s2"]["value"] == 7.0  # 5 + the declared default 2
    assert {"a1/k", "a1/add", "a2/k", "a2/add"} <= set(result.outputs) and "a1" not in result.outputs
    assert {"a1/add", "a2/add"} <= set(result.timings)
    started = {e["node"] for e in events if e["type"] == "node_started"}
    assert {"a1/add", "a2/add", "a1/k", "a2/k"} <= started
    assert ("a1/add", "Add") in testpack.RUNS


def test_a_failure_inside_a_subgraph_names_the_inner_node_and_input(registry):
    sub = {"inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
           "nodes": [{"id": "steps", "type": "Steps", "widgets": {"steps": 2}},
                     {"id": "boom", "type": "Fail", "widgets": {"fail": 1}}],
           "links": [{"from": "@inputs", "output": "x", "to": "steps", "input": "value"},
                     {"from": "steps", "output": "value", "to": "boom", "input": "value"},
                     {"from": "boom", "output": "value", "to": "@outputs", "input": "y"}]}
    d = doc([("n", "Number", {}), ("out", "Sink", {})], [("n", "value", "inner", "x"), ("inner", "y", "out", "value")],
            subgraphs={"s": sub})
    d["nodes"].append(instance("inner", {"id": "s"}))
    events = []
    with pytest.raises(RunFailed) as e:
        Executor(registry).run(d, listener=events.append)
    assert e.value.node_id == "inner/boom" and e.value.input == "fail"
    assert e.value.result.error["node"] == "inner/boom"
    progress = [e for e in events if e["type"] == "node_progress"]
    assert progress and {p["node"] for p in progress} == {"inner/steps"}
    failed = [e for e in events if e["type"] == "node_failed"]
    assert failed[0]["node"] == "inner/boom" and failed[0]["input"] == "fail"


def test_validation_problems_inside_name_the_path_id(registry):
    d = two_adders()
    d["subgraphs"]["adder"]["nodes"][0]["widgets"]["value"] = 5000  # Number allows at most 1000
    d["subgraphs"]["adder"]["links"] = [l for l in d["subgraphs"]["adder"]["links"] if l["output"] != "k"]
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(d)
    assert {(p.node, p.input) for p in problems(e, "bad_value")} == {("a1/k", "value"), ("a2/k", "value")}


def test_instance_inputs_are_checked_on_the_instance(registry):
    d = two_adders(k1=500.0)  # declared max 100
    d["nodes"][-1]["widgets"]["typo"] = 1
    d["links"] = [l for l in d["links"] if l["to"] != "a2"]
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(d)
    got = {(p.node, p.input, p.code) for p in e.value.problems}
    assert ("a1", "k", "bad_value") in got
    assert ("a2", "typo", "unknown_input") in got
    assert ("a2", "x", "missing_input") in got


# ----------------------------------------------------------------------------- caching

def test_two_instances_with_equal_inputs_compute_once(registry):
    Executor(registry).run(two_adders(k1=2.0, k2=2.0))
    assert len([n for n in runs_of() if n.endswith("/add")]) == 1
    assert len([n for n in runs_of() if n.endswith("/k")]) == 1


def test_running_only_an_instance_runs_what_its_inner_nodes_need(registry):
    result = Executor(registry).run(two_adders(), outputs=["a1"])
    assert sorted(result.executed) == ["a1/add", "a1/k", "n"] and runs_of() == ["a1/add", "a1/k", "n"]


def test_editing_one_instance_reruns_only_that_instance(registry):
    ex = Executor(registry)
    ex.run(two_adders(k1=3.0, k2=4.0))
    testpack.RUNS.clear()
    result = ex.run(two_adders(k1=3.0, k2=9.0))
    assert runs_of() == ["a2/add", "a2/k"]
    assert result.ui["s2"]["value"] == 14.0 and result.ui["s1"]["value"] == 8.0


def test_editing_the_definition_reruns_only_what_depends_on_the_edit(registry):
    ex = Executor(registry)
    base = two_adders()
    base["subgraphs"]["adder"]["nodes"].append({"id": "side", "type": "Number", "widgets": {"value": 1}})
    base["subgraphs"]["adder"]["nodes"].append({"id": "show", "type": "Sink", "widgets": {}})
    base["subgraphs"]["adder"]["links"].append({"from": "side", "output": "value", "to": "show", "input": "value"})
    ex.run(base)
    testpack.RUNS.clear()
    edited = copy.deepcopy(base)
    edited["subgraphs"]["adder"]["nodes"][2]["widgets"]["value"] = 7  # "side": nothing but "show" uses it
    ex.run(edited)
    runs = runs_of()  # a2's copy equals a1's: computed once, by whichever instance comes first
    assert len(runs) == 1 and runs[0].split("/")[1] == "side"
    testpack.RUNS.clear()
    ex.run(base)  # back to the old definition: everything is still cached
    assert runs_of() == []


def test_a_subgraph_run_caches_like_the_same_flat_graph(registry):
    ex = Executor(registry)
    ex.run(two_adders(k1=3.0, k2=3.0))
    testpack.RUNS.clear()
    flat = doc([("n", "Number", {"value": 5.0}), ("k", "Number", {"value": 3.0}), ("add", "Add", {}),
                ("s", "Sink", {})],
               [("n", "value", "add", "a"), ("k", "value", "add", "b"), ("add", "sum", "s", "value")])
    result = ex.run(flat)
    assert runs_of() == [] and sorted(result.cached) == ["add", "k", "n"]  # the output node "s" runs per run


# ----------------------------------------------------------------------------- nesting and cycles

def wrap(inner_id):
    """A definition that holds one instance of `inner_id` and passes x through it."""
    return {"inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
            "nodes": [{"id": "in", "type": "Subgraph", "subgraph": {"id": inner_id}, "widgets": {}}],
            "links": [{"from": "@inputs", "output": "x", "to": "in", "input": "x"},
                      {"from": "in", "output": "y", "to": "@outputs", "input": "y"}]}


def chain_document(depth):
    subgraphs = {"level0": copy.deepcopy(ADDER)}
    for i in range(1, depth):
        subgraphs[f"level{i}"] = wrap(f"level{i - 1}")
    d = doc([("n", "Number", {"value": 1}), ("out", "Sink", {})], [("n", "value", "top", "x"),
                                                                   ("top", "y", "out", "value")], subgraphs=subgraphs)
    d["nodes"].append(instance("top", {"id": f"level{depth - 1}"}))
    return d


def test_nesting_gives_path_ids_at_every_level(registry):
    result = Executor(registry).run(chain_document(3))
    assert result.ui["out"]["value"] == 3.0
    assert "top/in/in/add" in result.outputs


def test_nesting_twenty_deep_works(registry):
    result = Executor(registry).run(chain_document(20))
    assert result.ui["out"]["value"] == 3.0
    assert "top/" + "in/" * 19 + "add" in result.outputs


def test_nesting_past_the_limit_is_a_structured_problem(registry):
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(chain_document(40))
    (p,) = problems(e, "too_deep")
    assert "32" in p.message and p.node.count("/") == 32


def test_a_subgraph_containing_itself_is_a_cycle_naming_the_chain(registry):
    d = chain_document(3)
    d["subgraphs"]["level0"] = wrap("level2")  # level2 -> level1 -> level0 -> level2
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(d)
    (p,) = problems(e, "subgraph_cycle")
    assert p.message.endswith("'level2' -> 'level1' -> 'level0' -> 'level2'")
    assert p.node == "top/in/in/in"
    d["subgraphs"] = {"self": wrap("self")}
    d["nodes"][-1]["subgraph"] = {"id": "self"}
    with pytest.raises(WorkflowError) as e:
        load_workflow(d, registry=registry)
    assert "'self' -> 'self'" in problems(e, "subgraph_cycle")[0].message


def sub_file(path: Path, inner_ref=None, **changes):
    """Write a subgraph file: the adder, or a wrapper around `inner_ref`."""
    body = copy.deepcopy(ADDER) if inner_ref is None else wrap("x")
    if inner_ref is not None:
        body["nodes"][0]["subgraph"] = inner_ref
    body.update(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "fluxwire.subgraph", "version": 2, **body}))
    return path


def file_document(tmp_path, ref, **widgets):
    d = doc([("n", "Number", {"value": 5}), ("out", "Sink", {})], [("n", "value", "a", "x"), ("a", "y", "out", "value")])
    d["version"] = 2
    d["nodes"].append(instance("a", ref, **widgets))
    path = tmp_path / "main.json"
    path.write_text(json.dumps(d))
    return path


def test_files_are_found_relative_to_the_document_that_names_them(registry, tmp_path):
    sub_file(tmp_path / "parts" / "adder.json")
    sub_file(tmp_path / "parts" / "outer.json", inner_ref={"file": "adder.json"})  # relative to parts/
    path = file_document(tmp_path, {"file": "parts/outer.json"})
    result = Executor(registry).run(read_document(path))
    assert result.ui["out"]["value"] == 7.0 and "a/in/add" in result.outputs


def test_a_cycle_through_files_is_reported_not_followed(registry, tmp_path):
    sub_file(tmp_path / "a.json", inner_ref={"file": "b.json"})
    sub_file(tmp_path / "b.json", inner_ref={"file": "a.json"})
    path = file_document(tmp_path, {"file": "a.json"})
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(read_document(path))
    (p,) = problems(e, "subgraph_cycle")
    assert "file 'a.json' -> file 'b.json' -> file 'a.json'" in p.message and p.node == "a/in/in"


def test_a_cycle_through_the_library_is_reported(registry, tmp_path):
    lib = tmp_path / "lib"
    sub_file(lib / "loop.json", inner_ref={"library": "via-file"})
    sub_file(lib / "via-file.json", inner_ref={"file": "loop.json"})
    path = file_document(tmp_path, {"library": "loop"})
    with pytest.raises(WorkflowError) as e:
        Executor(registry, library_dir=lib).validate(read_document(path))
    (p,) = problems(e, "subgraph_cycle")
    assert "library 'loop' -> library 'via-file' -> file 'loop.json'" in p.message


def test_missing_file_library_entry_and_id_are_named(registry, tmp_path):
    path = file_document(tmp_path, {"file": "nowhere/adder.json"})
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(read_document(path))
    (p,) = problems(e, "missing_subgraph")
    assert p.node == "a" and "nowhere/adder.json" in p.message and "does not exist" in p.message
    path = file_document(tmp_path, {"library": "no-such-entry"})
    with pytest.raises(WorkflowError) as e:
        Executor(registry, library_dir=tmp_path / "lib").validate(read_document(path))
    assert "'no-such-entry'" in problems(e, "missing_subgraph")[0].message
    d = two_adders()
    d["nodes"][-1]["subgraph"] = {"id": "addr"}
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(d)
    (p,) = problems(e, "missing_subgraph")
    assert p.node == "a2" and "'addr'" in p.message and "'adder'" in p.message


def test_a_broken_referenced_file_is_reported_with_its_path(registry, tmp_path):
    (tmp_path / "bad.json").write_text('{"format": "fluxwire.subgraph", "version": 2, "inputs": 3}')
    path = file_document(tmp_path, {"file": "bad.json"})
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(read_document(path))
    assert all(p.node == "a" for p in e.value.problems)
    assert any("bad.json" in p.message and '"inputs" must be a list' in p.message for p in e.value.problems)


# ----------------------------------------------------------------------------- revisions

def test_an_incompatible_change_names_each_instance_and_why(registry, tmp_path):
    part = sub_file(tmp_path / "adder.json")
    made = {"file": "adder.json", "revision": revision_of(part.read_bytes()),
            "sockets": {"inputs": {"x": "FLOAT", "k": "FLOAT"}, "outputs": {"y": "FLOAT"}}}
    path = file_document(tmp_path, made)
    Executor(registry).validate(read_document(path))
    changed = copy.deepcopy(ADDER)
    changed["inputs"][1]["name"] = "offset"  # renamed
    changed["links"][1]["output"] = "offset"
    changed["outputs"][0]["type"] = "*"  # retyped
    sub_file(part, **changed)
    with pytest.raises(WorkflowError) as e:
        Executor(registry).validate(read_document(path))
    (p,) = problems(e, "incompatible_subgraph")
    assert p.node == "a"
    assert "input 'k' was removed or renamed" in p.message
    assert "output 'y' changed type from FLOAT to *" in p.message


def test_a_compatible_change_is_taken_and_a_remembered_check_notices_the_edit(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a document given as a dict names files relative to the working folder
    part = sub_file(tmp_path / "adder.json")
    made = {"file": "adder.json", "revision": revision_of(part.read_bytes()),
            "sockets": {"inputs": {"x": "FLOAT", "k": "FLOAT"}, "outputs": {"y": "FLOAT"}}}
    document = json.loads(file_document(tmp_path, made).read_text())
    ex = Executor(registry)
    assert ex.run(document, overrides={}).ui["out"]["value"] == 7.0
    changed = copy.deepcopy(ADDER)
    changed["inputs"][1]["default"] = 10.0  # a change inside; the sockets still fit
    changed["inputs"].append({"name": "unused", "type": "INT", "optional": True})
    sub_file(part, **changed)
    import os
    os.utime(part, ns=(1, 1))  # a different stamp even on coarse clocks
    assert ex.run(document, overrides={}).ui["out"]["value"] == 15.0


# ----------------------------------------------------------------------------- overrides

def test_overrides_set_promoted_widgets_per_instance_and_inner_widgets_by_path(registry):
    ex = Executor(registry)
    result = ex.run(two_adders(k1=3.0, k2=3.0), overrides={"a2.k": "10"})  # text, as from --set
    assert result.ui["s1"]["value"] == 8.0 and result.ui["s2"]["value"] == 15.0
    d = two_adders()
    d["subgraphs"]["adder"]["links"] = [l for l in d["subgraphs"]["adder"]["links"] if l["output"] != "k"]
    result = ex.run(d, overrides={"a1/k.value": "20"})
    assert result.ui["s1"]["value"] == 25.0 and result.ui["s2"]["value"] == 6.0
    with pytest.raises(WorkflowError) as e:
        ex.run(two_adders(), overrides={"a1.nope": "1", "a1/missing.value": "1", "a2.k": "abc"})
    got = {(p.node, p.code) for p in e.value.problems}
    assert ("a1", "bad_override") in got and ("a2", "bad_value") in got


def test_cli_run_and_validate_take_subgraph_documents_and_set_paths(tmp_path, capsys):
    sub = {"format": "fluxwire.subgraph", "version": 2, "name": "Scale", "category": "test",
           "inputs": [{"name": "x", "type": "FLOAT"}, {"name": "factor", "type": "FLOAT", "default": 2.0, "widget": {}}],
           "outputs": [{"name": "y", "type": "FLOAT"}],
           "nodes": [{"id": "mul", "type": "Math", "widgets": {"op": "multiply"}}],
           "links": [{"from": "@inputs", "output": "x", "to": "mul", "input": "a"},
                     {"from": "@inputs", "output": "factor", "to": "mul", "input": "b"},
                     {"from": "mul", "output": "result", "to": "@outputs", "input": "y"}]}
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "scale.json").write_text(json.dumps(sub))
    d = {"format": "fluxwire.workflow", "version": 2, "metadata": {},
         "nodes": [{"id": "v", "type": "FloatValue", "widgets": {"value": 3}},
                   {"id": "s", "type": "Subgraph", "subgraph": {"library": "scale"}, "widgets": {}},
                   {"id": "show", "type": "ShowValue", "widgets": {}}],
         "links": [{"from": "v", "output": "value", "to": "s", "input": "x"},
                   {"from": "s", "output": "y", "to": "show", "input": "value"}]}
    path = tmp_path / "w.json"
    path.write_text(json.dumps(d))
    assert main(["validate", str(path), "--library-dir", str(lib)]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--json", "--library-dir", str(lib), "--set", "s.factor=5",
                 "--output-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outputs"]["show"]["text"] == "15.0" and "s/mul" in out["executed"]
    assert main(["run", str(path), "--json", "--library-dir", str(lib), "--set", "s/mul.op=add",
                 "--output-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["show"]["text"] == "5.0"
    assert main(["validate", str(path), "--json", "--library-dir", str(tmp_path / "empty")]) == 2
    err = json.loads(capsys.readouterr().out)
    assert err["problems"][0]["code"] == "missing_subgraph" and err["problems"][0]["node"] == "s"
    assert main(["nodes", "--json", "--library-dir", str(lib)]) == 0
    listed = [n for n in json.loads(capsys.readouterr().out)["nodes"]
              if n["type"] == "Subgraph" and n["subgraph"].get("library") == "scale"]
    assert listed[0]["category"] == "test" and listed[0]["inputs"][1]["widget"]["default"] == 2.0


# ----------------------------------------------------------------------------- the document

def test_round_trip_is_byte_stable(registry, tmp_path):
    text = dumps_document(parse_document(two_adders()))
    assert dumps_document(loads_document(text)) == text
    assert json.loads(text)["version"] == 2
    for path in [*(ROOT / "workflows").glob("*.json")]:
        raw = path.read_text()
        assert dumps_document(read_document(path)) == raw, path.name
    from flux_core.graph.subgraph_files import load_subgraph_file, subgraph_file_document
    for path in (ROOT / "workflows" / "library").glob("*.json"):
        assert dumps_document(subgraph_file_document(load_subgraph_file(path).definition)) == path.read_text()


def test_old_documents_load_unchanged_and_stay_version_1(registry):
    old = doc([("x", "Number", {"value": 2}), ("out", "Sink", {})], [("x", "value", "out", "value")])
    text = json.dumps(old, indent=2, sort_keys=True) + "\n"
    workflow = loads_document(text)
    assert dumps_document(workflow) == text and workflow.to_dict()["version"] == 1
    assert Executor(registry).run(workflow).ui["out"]["value"] == 2.0
    old["subgraphs"] = {}
    assert loads_document(json.dumps(old)).to_dict()["version"] == 1
    newer = dict(old, version=3)
    with pytest.raises(WorkflowError) as e:
        loads_document(json.dumps(newer))
    assert problems(e, "newer_version")


def test_structure_problems_in_definitions_name_the_subgraph():
    d = two_adders()
    d["subgraphs"]["adder"]["links"].append({"from": "@inputs", "output": "zz", "to": "add", "input": "b"})
    d["subgraphs"]["adder"]["nodes"].append({"id": "a/b", "type": "Number"})
    d["subgraphs"]["adder"]["outputs"].append({"name": "unfed", "type": "FLOAT"})
    d["nodes"][-1]["subgraph"] = {"id": "adder", "file": "x.json"}
    with pytest.raises(WorkflowError) as e:
        parse_document(d)
    text = [str(p) for p in e.value.problems]
    assert any("subgraph 'adder'" in t and "'zz'" in t for t in text)
    assert any("subgraph 'adder', node 'a/b'" in t for t in text)
    assert any("'unfed'" in t for t in text)
    assert any(p.node == "a2" and p.code == "bad_subgraph_ref" for p in e.value.problems)


# ----------------------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10)
BASE = chain_document(2)
BASE["subgraphs"]["level0"]["nodes"].append({"id": "f", "type": "Fail", "widgets": {"fail": 0}})


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(BASE) if p]


@st.composite
def mutated(draw):
    d = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "swap"]))
            if action == "replace":
                parent[path[-1]] = draw(json_values)
            elif action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(
                    ["level1", "level0", "@inputs", "@outputs", "top", {"id": "level1"}, {"file": "x.json"},
                     {"library": "../x"}, BASE["nodes"][-1], ADDER["links"][0], ADDER["inputs"][1]])))
        except (KeyError, IndexError, TypeError):
            continue
    return d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutated())
def test_mutated_subgraph_documents_give_structured_errors(registry, tmp_path, document):
    try:
        Executor(registry, library_dir=tmp_path).run(document)
    except RunFailed as e:  # a valid document whose Fail node was switched on
        assert e.node_id.endswith("/f")
    except WorkflowError as e:
        assert e.problems
        for p in e.problems:
            assert isinstance(p.message, str) and p.message
        json.dumps(e.to_dict())


def test_the_json_schema_accepts_subgraph_documents_and_files_and_rejects_broken_references():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    jsonschema.validate(two_adders(), schema)
    jsonschema.validate(chain_document(3), schema)
    for path in [ROOT / "workflows" / "flux-schnell-library.json", *(ROOT / "workflows" / "library").glob("*.json")]:
        jsonschema.validate(json.loads(path.read_text()), schema)
    broken = two_adders()
    broken["nodes"][-1]["subgraph"] = {"id": "adder", "library": "x"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = two_adders()
    broken["subgraphs"]["adder"]["inputs"][0]["name"] = "not a name"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=json_values | st.builds(
    lambda body, key, value: {"format": "fluxwire.subgraph", "version": 2, **dict(ADDER, **{key: value})},
    st.none(), st.sampled_from(sorted(ADDER) + ["subgraphs", "version", "format"]), json_values))
def test_garbage_referenced_files_give_structured_errors(registry, tmp_path, content):
    (tmp_path / "part.json").write_text(json.dumps(content))
    path = file_document(tmp_path, {"file": "part.json"})
    try:
        Executor(registry).run(read_document(path))
    except WorkflowError as e:
        assert e.problems and all(p.node == "a" for p in e.problems)
        json.dumps(e.to_dict())
