"""Bypassed and muted nodes run the way ComfyUI runs them (flux_core/node_modes.py), through the real executor.

Real value nodes: the text a ShowValue node shows says which path the data took.
"""
from __future__ import annotations

import pytest

from flux_core import Executor, load_workflow
from flux_core.workflow import WorkflowError, dumps_document, parse_document


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
