"""Bypassed and muted nodes run the way ComfyUI runs them (flux_core/graph/node_modes.py), through the real executor.

Real value nodes: the text a ShowValue node shows says which path the data took.
"""
from __future__ import annotations

import json

import pytest

from flux_core import Executor, load_workflow
from flux_core.graph.workflow import WorkflowError, dumps_document, parse_document


def document(nodes, links):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "modes"},
            "nodes": [dict({"id": i, "type": t, "widgets": w}, **({"mode": m} if m else {})) for i, t, w, m in nodes],
            "links": [{"from": a, "output": o, "to": b, "input": n} for a, o, b, n in links]}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modes")
    return Executor(output_dir=folder / "out", models_dir=folder / "models")


def shown(result, node_id):
    return result.ui[node_id]["text"]


def chain(math=None, viewer=None, extra=None):
    # 3 -> Math(a * 10) -> ShowValue "s"; a second viewer "t" shows the number directly
    return document([("n", "IntValue", {"value": 3}, None),
                     ("m", "Math", {"b": 10.0, "op": "multiply"}, math),
                     ("s", "ShowValue", {}, viewer),
                     ("t", "ShowValue", {}, extra)],
                    [("n", "value", "m", "a"), ("m", "result", "s", "value"), ("n", "value", "t", "value")])


def test_bypass_passes_the_input_of_the_same_type_through(executor):
    normal = executor.run(chain())
    assert shown(normal, "s") == "30.0"
    bypassed = executor.run(chain(math="bypass"))
    assert shown(bypassed, "s") == "3"  # Math's FLOAT output is fed by its FLOAT input a (from the INT 3)
    assert "m" not in bypassed.executed and "m" not in bypassed.cached


def test_a_bypassed_node_without_a_matching_input_leaves_the_consumer_unfed(executor):
    # JoinText's STRING output cannot come from anything: ShowValue is then missing its input
    doc = document([("j", "JoinText", {"a": "x", "b": "y"}, "bypass"), ("s", "ShowValue", {}, None)],
                   [("j", "text", "s", "value")])
    with pytest.raises(WorkflowError) as e:
        executor.validate(doc)
    assert any(p.node == "s" and p.input == "value" for p in e.value.problems), e.value.problems


def test_mute_drops_the_node_and_what_only_feeds_it(executor):
    result = executor.run(chain(viewer="mute"))
    # s muted: Math only fed s, so it goes too; n still feeds t, so it stays
    assert set(result.executed) | set(result.cached) == {"n", "t"}
    assert shown(result, "t") == "3"


def test_modes_round_trip_and_bad_modes_are_named(tmp_path):
    doc = chain(math="bypass", viewer="mute")
    wf = parse_document(doc)
    assert wf.nodes["m"].mode == "bypass" and wf.nodes["s"].mode == "mute" and wf.nodes["n"].mode is None
    path = tmp_path / "modes.json"
    path.write_text(dumps_document(wf))
    again = load_workflow(path)
    assert again.to_dict()["nodes"] == wf.to_dict()["nodes"]
    doc["nodes"][1]["mode"] = "sleep"
    with pytest.raises(WorkflowError) as e:
        parse_document(doc)
    assert [(p.node, p.code) for p in e.value.problems] == [("m", "bad_mode")]


def test_comfyui_export_writes_the_graph_as_it_runs(executor):
    from flux_core.interop.comfyui.export import to_api_prompt

    doc = document([("e", "EmptyLatent", {}, None), ("u", "LatentUpscale", {}, "bypass"),
                    ("v", "LoadVAE", {"vae_name": "ae.safetensors"}, None), ("d", "VAEDecode", {}, None),
                    ("p", "PreviewImage", {}, None)],
                   [("e", "latent", "u", "samples"), ("u", "latent", "d", "latent"), ("v", "vae", "d", "vae"),
                    ("d", "image", "p", "images")])
    prompt = to_api_prompt(parse_document(doc), executor.registry)
    assert "u" not in prompt
    assert prompt["d"]["inputs"]["samples"] == ["e", 0]


# ----------------------------------------------------------------------------- modes inside subgraphs

def scaled(inner_modes=None, via=None):
    """3 -> instance "i" of a definition (x -> Math m1 (x*10) -> Math m2 (+1) -> y; x -> Math side -> ShowValue
    sv inside) -> ShowValue s. `inner_modes` gives inner nodes a mode; `via` another subgraph reference."""
    modes = inner_modes or {}
    inner = [{"id": "m1", "type": "Math", "widgets": {"b": 10.0, "op": "multiply"}},
             {"id": "m2", "type": "Math", "widgets": {"b": 1.0, "op": "add"}},
             {"id": "side", "type": "Math", "widgets": {"b": 2.0, "op": "add"}},
             {"id": "sv", "type": "ShowValue", "widgets": {}}]
    for n in inner:
        if n["id"] in modes:
            n["mode"] = modes[n["id"]]
    definition = {"name": "scale", "inputs": [{"name": "x", "type": "FLOAT"}], "outputs": [{"name": "y", "type": "FLOAT"}],
                  "nodes": inner,
                  "links": [{"from": "@inputs", "output": "x", "to": "m1", "input": "a"},
                            {"from": "m1", "output": "result", "to": "m2", "input": "a"},
                            {"from": "m2", "output": "result", "to": "@outputs", "input": "y"},
                            {"from": "@inputs", "output": "x", "to": "side", "input": "a"},
                            {"from": "side", "output": "result", "to": "sv", "input": "value"}]}
    doc = document([("n", "IntValue", {"value": 3}, None), ("s", "ShowValue", {}, None)],
                   [("n", "value", "i", "x"), ("i", "y", "s", "value")])
    doc["version"] = 2
    doc["nodes"].append({"id": "i", "type": "Subgraph", "subgraph": via or {"id": "scale"}, "widgets": {}})
    if via is None:
        doc["subgraphs"] = {"scale": definition}
    return doc, definition


def test_bypass_inside_a_subgraph_definition_passes_through_like_at_the_top(executor):
    normal, _ = scaled()
    assert shown(executor.run(normal), "s") == "31.0"
    once, _ = scaled({"m1": "bypass"})
    result = executor.run(once)
    assert shown(result, "s") == "4.0"  # x passed through m1, then + 1
    assert "i/m1" not in result.executed and "i/m1" not in result.cached
    both, _ = scaled({"m1": "bypass", "m2": "bypass"})
    assert shown(executor.run(both), "s") == "3"  # the boundary input straight to the boundary output


def test_mute_inside_a_subgraph_drops_what_only_fed_it_but_never_the_boundary(executor):
    doc, _ = scaled({"sv": "mute"})
    result = executor.run(doc)
    ran = set(result.executed) | set(result.cached)
    assert "i/side" not in ran and "i/sv" not in ran  # side only fed the muted viewer
    assert {"i/m1", "i/m2"} <= ran and shown(result, "s") == "31.0"
    cut, _ = scaled({"m2": "mute"})  # the subgraph's output is then unfed: its consumer says so
    with pytest.raises(WorkflowError) as e:
        executor.validate(cut)
    assert any(p.node == "s" and p.input == "value" for p in e.value.problems), e.value.problems


def test_modes_apply_in_subgraph_files_too_and_round_trip(executor, tmp_path):
    _, definition = scaled({"m1": "bypass"})
    (tmp_path / "scale.json").write_text(json.dumps({"format": "fluxwire.subgraph", "version": 2, **definition}))
    doc, _ = scaled(via={"file": "scale.json"})
    path = tmp_path / "main.json"
    path.write_text(json.dumps(doc))
    assert shown(executor.run(load_workflow(path)), "s") == "4.0"
    embedded, _ = scaled({"m1": "bypass", "sv": "mute"})
    again = parse_document(json.loads(dumps_document(parse_document(embedded))))
    assert {n.id: n.mode for n in again.subgraphs["scale"].nodes.values()} == \
        {"m1": "bypass", "m2": None, "side": None, "sv": "mute"}
