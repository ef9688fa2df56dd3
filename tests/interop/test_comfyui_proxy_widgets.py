"""0.4 subgraph instances whose proxyWidgets point into inner nodes: the instance's value wins over the
definition's, an instance that does not promote the widget keeps the definition's value, and the picture is
the flat graph's."""
import copy

import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.interop.comfyui import comfyui_to_document

from .conftest import fixture

UUID = "3f1c2a4e-7b2d-4c1e-9a77-5d0c1e2f3a41"


def promoting_inner_widget() -> dict:
    """The subgraph fixture with the prompt text no longer a subgraph input: the instance promotes inner
    node 1's "text" widget directly (proxyWidgets [["1", "text"]]) and holds its own value for it."""
    data = fixture("ui_schnell_subgraph.json")
    sg = data["definitions"]["subgraphs"][0]
    sg["inputs"] = [i for i in sg["inputs"] if i["name"] != "text"]
    sg["links"] = [l for l in sg["links"] if l["id"] != 3]
    inner = next(n for n in sg["nodes"] if n["id"] == 1)
    inner["inputs"] = [x for x in inner["inputs"] if x["name"] != "text"]
    instance = next(n for n in data["nodes"] if n["id"] == 30)
    instance["inputs"] = [x for x in instance["inputs"] if x["name"] != "text"]
    instance["properties"]["proxyWidgets"] = [["1", "text"]]
    instance["widgets_values"] = ["a red fox in the snow"]
    return data


def test_the_instance_value_wins_and_the_definition_value_is_the_default():
    doc = comfyui_to_document(promoting_inner_widget())
    definition = doc["subgraphs"][UUID]
    promoted = [i for i in definition["inputs"] if "widget" in i]
    assert promoted == [{"name": "text", "type": "STRING", "widget": {}, "default": "the definition's own text"}]
    assert {"from": "@inputs", "output": "text", "to": "1", "input": "text"} in definition["links"]
    instance = next(n for n in doc["nodes"] if n["id"] == "30")
    assert instance["widgets"] == {"text": "a red fox in the snow"}


def test_proxy_widgets_as_json_text_and_a_second_instance_without_them(comfy_models, executor):
    env = Environment(models_dir=comfy_models)
    data = promoting_inner_widget()
    instance = next(n for n in data["nodes"] if n["id"] == 30)
    instance["properties"]["proxyWidgets"] = '[["1", "text"]]'  # some frontends store it as JSON text
    flat = executor.run(load_workflow(fixture("api_schnell_split.json"), env=env)).outputs["8"]["image"]
    nested = executor.run(load_workflow(copy.deepcopy(data), env=env))
    assert nested.status == "success" and torch.equal(nested.outputs["8"]["image"], flat)
    # without its own value the instance runs the definition's text: a different picture
    del instance["properties"]["proxyWidgets"]
    instance["widgets_values"] = []
    plain = executor.run(load_workflow(data, env=env))
    assert plain.status == "success" and not torch.equal(plain.outputs["8"]["image"], flat)
