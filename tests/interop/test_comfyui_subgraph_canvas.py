"""Canvas data inside ComfyUI subgraph definitions: their own reroutes (schema 1: ``reroutes`` next to the
nodes, each link object naming its last reroute in ``parentId``; legacy Reroute nodes too), groups and the
boundary nodes' positions become the fluxwire definition's ``extra`` and ``groups``, and are written back."""
import copy

import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.interop.comfyui import comfyui_to_document

from .conftest import fixture
from .test_comfyui_export_ui import export_ui, reroute_chains as chains

UUID = "3f1c2a4e-7b2d-4c1e-9a77-5d0c1e2f3a41"


def with_inner_reroutes() -> dict:
    """ui_schnell_subgraph with, inside its definition: native reroute 1 on the wire from the boundary's model
    input to the guider, a chain 2 -> 3 on the conditioning wire, 4 on the wire into the boundary output, a
    legacy Reroute node (id 7) on the clip wire, and a pinned group."""
    data = fixture("ui_schnell_subgraph.json")
    (sg,) = data["definitions"]["subgraphs"]
    sg["reroutes"] = [{"id": 1, "pos": [150, 80], "linkIds": [2]},
                      {"id": 2, "pos": [610, 60], "linkIds": [4]},
                      {"id": 3, "parentId": 2, "pos": [630, 70], "linkIds": [4]},
                      {"id": 4, "pos": [880, 20], "linkIds": [5]}]
    links = {l["id"]: l for l in sg["links"]}
    for lid, parent in ((2, 1), (4, 3), (5, 4)):
        links[lid]["parentId"] = parent
    # the clip wire now goes boundary input -> Reroute node 7 -> CLIPTextEncode
    links[1]["target_id"] = 7
    sg["links"].append({"id": 6, "origin_id": 7, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "CLIP"})
    sg["nodes"][0]["inputs"][0]["link"] = 6
    sg["nodes"].append({"id": 7, "type": "Reroute", "pos": [140, 20], "size": [75, 26], "flags": {}, "mode": 0,
                        "inputs": [{"name": "", "type": "*", "link": 1}],
                        "outputs": [{"name": "", "type": "CLIP", "links": [6]}], "properties": {}})
    sg["groups"] = [{"id": 1, "title": "Prompt", "bounding": [180, -40, 460, 280], "color": "#3f789e",
                     "font_size": 20, "flags": {"pinned": True}}]
    sg["state"]["lastRerouteId"] = 4
    return data


def definition(doc: dict) -> dict:
    return doc["subgraphs"][UUID]


def without_canvas(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    for d in doc["subgraphs"].values():
        d["extra"].pop("reroutes", None)
        d["extra"].pop("link_reroutes", None)
        d["groups"] = []
    for node in doc["nodes"]:
        node["properties"].pop("comfyui", None)
    return doc


def test_reroutes_inside_a_definition_become_its_points():
    doc = comfyui_to_document(with_inner_reroutes())
    extra = definition(doc)["extra"]
    assert {p["id"]: (p["pos"], p["parent"]) for p in extra["reroutes"]} == {
        "r1": ([150, 80], None), "r2": ([610, 60], None), "r3": ([630, 70], "r2"), "r4": ([880, 20], None),
        "n7": ([140, 20], None)}
    assert extra["link_reroutes"] == {"2/model": "r1", "2/conditioning": "r3", "@outputs/GUIDER": "r4",
                                      "1/text_encoder": "n7"}  # fluxwire input names
    assert extra["boundary"] == {"inputs": [0, 0], "outputs": [900, 0]}
    assert definition(doc)["groups"] == [{"title": "Prompt", "bounding": [180, -40, 460, 280], "color": "#3f789e",
                                          "font_size": 20, "pinned": True}]
    # the Reroute node is no node; the wires are the plain file's
    assert without_canvas(doc) == without_canvas(comfyui_to_document(fixture("ui_schnell_subgraph.json")))
    assert doc["extra"].get("reroutes") is None  # nothing leaks to the document's own canvas data


def test_reroutes_inside_a_definition_round_trip(comfy_models, executor):
    first = comfyui_to_document(with_inner_reroutes())
    exported = export_ui(first)
    (sg,) = exported["definitions"]["subgraphs"]
    # schema 1 inside a definition: reroutes next to the nodes, each link naming its last one
    assert {r["id"] for r in sg["reroutes"]} >= {1, 2, 3, 4} and sg["state"]["lastRerouteId"] >= 5
    into_output = next(l for l in sg["links"] if l["target_id"] == -20)
    assert into_output["parentId"] == 4
    assert sg["groups"][0]["flags"] == {"pinned": True} and sg["inputNode"]["bounding"][:2] == [0, 0]
    again = comfyui_to_document(exported)
    assert chains(definition(again)["extra"]) == chains(definition(first)["extra"])
    assert len(chains(definition(first)["extra"])) == 4
    assert definition(again)["groups"] == definition(first)["groups"]
    assert without_canvas(again) == without_canvas(first)
    env = Environment(models_dir=comfy_models)
    plain = comfyui_to_document(fixture("ui_schnell_subgraph.json"))
    pictures = [executor.run(load_workflow(d, env=env)).outputs["8"]["image"] for d in (plain, first, again)]
    assert torch.equal(pictures[0], pictures[1]) and torch.equal(pictures[0], pictures[2])
