"""The queued run endpoint through `gradio_client`, as a script or another program would use it."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from .canvas_helpers import launch_app

GRAPH = {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "api"},
         "nodes": [{"id": "p", "type": "TestPicture", "widgets": {"width": 32, "height": 24, "delay": 0.3}},
                   {"id": "w", "type": "WritePicture", "widgets": {"prefix": "api"}}],
         "links": [{"from": "p", "output": "image", "to": "w", "input": "image"}]}


@pytest.fixture(scope="module")
def app_url(module_executor):
    demo, url = launch_app(module_executor)
    yield url
    demo.close()


def run_state_of(output):
    update = output[0] if isinstance(output, (list, tuple)) else output
    return update["props"]["run_state"] if "props" in update else update["run_state"]


def test_run_graph_streams_states_and_returns_the_images(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    job = client.submit(GRAPH, api_name="/run_graph")
    outputs = list(job)
    final = run_state_of(outputs[-1])
    assert final["status"] == "success", final
    assert final["nodes"]["w"]["status"] == "done"
    assert any(run_state_of(o)["nodes"].get("p", {}).get("status") == "running" for o in outputs[:-1])
    gallery = outputs[-1][1]
    assert len(gallery) == 1
    with Image.open(gallery[0]["image"]) as img:  # downloaded by the client from the server
        assert img.size == (32, 24)
        assert json.loads(img.text["fluxwire.workflow"])["nodes"][1]["type"] == "WritePicture"


def test_an_invalid_graph_comes_back_as_structured_problems(app_url):
    from gradio_client import Client

    bad = json.loads(json.dumps(GRAPH))
    bad["links"][0]["output"] = "nope"
    result = Client(app_url, verbose=False).predict(bad, api_name="/run_graph")
    final = run_state_of(result)
    assert final["status"] == "invalid"
    assert final["problems"][0] == {"node": "w", "input": "image", "code": "missing_output",
                                    "message": final["problems"][0]["message"]}
    assert "'nope'" in final["problems"][0]["message"]
