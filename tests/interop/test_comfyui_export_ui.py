"""Export to ComfyUI's UI format (schema 0.4): ComfyUI UI file -> import -> export UI -> import again gives
the same fluxwire document (nodes, widgets, links, modes, groups, colours, collapsed, reroutes) and the
same picture; fluxwire's own documents get integer ids; what cannot be written is refused by node."""
import copy
import json

import pytest
import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.interop.comfyui import comfyui_to_document, detect
from flux_core.interop.comfyui.export_ui import to_ui_workflow
from flux_core.graph.registry import default_registry
from flux_core.graph.workflow import WorkflowError, parse_document

from .conftest import fixture
from .test_comfyui_canvas_data import with_reroutes


def canvas_fixture() -> dict:
    """ui_dev_split with reroutes (legacy, native, mixed), a bypassed and a muted node, a collapsed and
    pinned node, a title, colours and two groups."""
    data = with_reroutes()
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes[5]["flags"] = {"collapsed": True}
    nodes[9]["flags"] = {"pinned": True}
    nodes[9]["title"] = "Schedule"
    data["groups"].append({"id": 2, "title": "Sampling", "bounding": [1140, 180, 760, 640], "color": "#8A8",
                           "flags": {"pinned": True}})
    return data


def chains(doc: dict) -> dict:
    """Reroutes without their ids: for each link, the positions its wire passes from the input back."""
    return reroute_chains(doc["extra"])


def reroute_chains(extra: dict) -> dict:
    """`chains` of one graph's canvas data (a document's or a subgraph definition's ``extra``)."""
    points = {p["id"]: p for p in extra.get("reroutes", [])}
    out = {}
    for key, tail in extra.get("link_reroutes", {}).items():
        walk = []
        while tail is not None:
            walk.append(points[tail]["pos"])
            tail = points[tail]["parent"]
        out[key] = walk
    return out


def without_reroute_ids(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["extra"].pop("reroutes", None)
    doc["extra"].pop("link_reroutes", None)
    return doc


def export_ui(doc: dict) -> dict:
    return to_ui_workflow(parse_document(doc), default_registry())


def test_ui_round_trip_gives_the_same_document():
    first = comfyui_to_document(canvas_fixture())
    exported = export_ui(first)
    assert detect(exported) == "ui" and exported["version"] == 0.4
    again = comfyui_to_document(exported)
    assert without_reroute_ids(again) == without_reroute_ids(first)
    assert chains(again) == chains(first) and len(chains(first)) == 2
    # what the round trip is made of, checked on the way: modes, flags, groups, native reroutes
    by_id = {n["id"]: n for n in exported["nodes"]}
    assert by_id[7]["mode"] == 4 and by_id[19]["mode"] == 2 and by_id[18]["mode"] == 0
    assert by_id[5]["flags"] == {"collapsed": True} and by_id[9]["flags"] == {"pinned": True}
    assert by_id[9]["title"] == "Schedule" and by_id[5]["color"] == "#232"
    assert [g["flags"] for g in exported["groups"]] == [{}, {"pinned": True}]
    assert {r["id"] for r in exported["extra"]["reroutes"]} >= {1, 2, 4}  # native ids kept
    assert not any(n["type"] == "Reroute" for n in exported["nodes"])  # legacy Reroute nodes became native
    ext = {e["id"]: e["parentId"] for e in exported["extra"]["linkExtensions"]}
    into_guider = next(l for l in exported["links"] if l[3] == 8 and l[4] == 0)
    assert ext[into_guider[0]] == 2
    # the note survives a UI export (unlike an API prompt)
    assert by_id[20]["type"] == "Note" and by_id[20]["widgets_values"] == ["FLUX dev: use 20 steps for real pictures"]


def test_ui_round_trip_gives_the_same_picture(comfy_models, executor):
    env = Environment(models_dir=comfy_models)
    first = comfyui_to_document(canvas_fixture())
    again = comfyui_to_document(export_ui(first))
    pictures = []
    for doc in (first, again):
        result = executor.run(load_workflow(doc, env=env))
        assert result.status == "success"
        pictures.append(result.outputs["16"]["image"])
    assert torch.equal(*pictures)


def test_widgets_fed_by_links_and_fluxwire_ids():
    """A fluxwire document with text ids, a value node feeding a widget and canvas-made reroute points."""
    doc = comfyui_to_document(fixture("api_schnell_split.json"))
    doc["nodes"].append({"id": "seed", "type": "IntValue", "widgets": {"value": 7}})
    doc["links"].append({"from": "seed", "output": "value", "to": "25", "input": "seed"})
    doc["extra"]["reroutes"] = [{"id": "p1", "pos": [10, 20], "parent": None},
                                {"id": "p2", "pos": [30, 40], "parent": "p1"},
                                {"id": "stale", "pos": [0, 0], "parent": None}]
    doc["extra"]["link_reroutes"] = {"25/seed": "p2", "gone/input": "p1"}
    exported = export_ui(doc)
    ids = {n["id"] for n in exported["nodes"]}
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(doc["nodes"])
    seed_id = max(ids)  # the only non-number id is numbered after the largest
    noise = next(n for n in exported["nodes"] if n["type"] == "RandomNoise")
    socket = next(x for x in noise["inputs"] if x.get("widget"))
    assert socket["widget"] == {"name": "noise_seed"}
    link = next(l for l in exported["links"] if l[0] == socket["link"])
    assert link[1] == seed_id and link[5] == "INT"
    assert [r["pos"] for r in exported["extra"]["reroutes"]] == [[10, 20], [30, 40]]  # stale point dropped
    again = comfyui_to_document(exported)
    node = next(n for n in again["nodes"] if n["type"] == "RandomNoise")
    assert {"from": str(seed_id), "output": "value", "to": node["id"], "input": "seed"} in again["links"]
    assert chains(again) == {f"{node['id']}/seed": [[30, 40], [10, 20]]}


def test_what_cannot_be_written_is_refused_by_node():
    from pathlib import Path

    import workflows

    own = json.loads((Path(workflows.__file__).parent / "flux-schnell.json").read_text())
    with pytest.raises(WorkflowError) as e:
        export_ui(own)
    assert {p.node for p in e.value.problems} >= {"sampler", "scheduler"}
    assert all(p.code in ("no_comfyui_twin", "no_comfyui_value") for p in e.value.problems)


def test_cli_and_canvas_write_ui_workflows(tmp_path, comfy_models):
    import base64

    import gradio as gr

    from flux_core import Executor
    from flux_core.cli import main
    from web.canvas import NodeCanvas

    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(comfyui_to_document(canvas_fixture())))
    assert main(["export", "--comfyui-ui", str(doc), "-o", str(tmp_path / "ui.json")]) == 0
    written = json.loads((tmp_path / "ui.json").read_text())
    assert detect(written) == "ui" and any(n["mode"] == 4 for n in written["nodes"])

    executor = Executor(models_dir=comfy_models, output_dir=tmp_path / "out", input_dir=tmp_path / "in")
    with gr.Blocks():
        canvas = NodeCanvas(executor=executor)
    opened = canvas.read_workflow_file({"name": "ui.json", "data": base64.b64encode(json.dumps(written).encode()).decode()})
    assert opened["ok"]
    exported = canvas.export_comfyui_ui(opened["workflow"])
    assert exported["ok"]
    assert without_reroute_ids(comfyui_to_document(json.loads(exported["text"]))) == \
        without_reroute_ids(comfyui_to_document(written))


def test_subgraphs_round_trip_through_the_ui_format(comfy_models, executor):
    """Embedded definitions are written as definitions.subgraphs, instances with their promoted widgets."""
    first = comfyui_to_document(fixture("ui_schnell_subgraph.json"))
    exported = export_ui(first)
    (definition,) = exported["definitions"]["subgraphs"]
    uuid = "3f1c2a4e-7b2d-4c1e-9a77-5d0c1e2f3a41"
    assert definition["id"] == uuid and [i["name"] for i in definition["inputs"]] == ["clip", "model", "text"]
    assert {(l["origin_id"], l["target_id"]) for l in definition["links"]} >= {(-10, 1), (2, -20)}
    instance = next(n for n in exported["nodes"] if n["type"] == uuid)
    assert instance["properties"]["proxyWidgets"] == [["-1", "text"]]
    assert instance["widgets_values"] == ["a red fox in the snow"]
    again = comfyui_to_document(exported)
    for doc in (first, again):  # EmptyLatentImage is written back as its export twin EmptySD3LatentImage
        for node in doc["nodes"]:
            node["properties"].pop("comfyui", None)
    assert again == first
    env = Environment(models_dir=comfy_models)
    pictures = [executor.run(load_workflow(d, env=env)).outputs["8"]["image"] for d in (first, again)]
    assert torch.equal(*pictures)
