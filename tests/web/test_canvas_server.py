"""The canvas's Python side without a browser: server functions, uploads, the queued endpoint."""
from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from flux_core.graph.validation import check
from flux_core.graph.workflow import WorkflowError, parse_document
from web.canvas import MAX_UPLOAD_BYTES, NodeCanvas, node_catalogue, read_uploaded_workflow
from flux_core.graph.types import can_connect

GOOD = {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": "good"},
        "nodes": [{"id": "1", "type": "IntValue", "widgets": {"value": 5}, "ui": {"pos": [10, 20]}},
                  {"id": "2", "type": "ShowValue", "widgets": {}}],
        "links": [{"from": "1", "output": "value", "to": "2", "input": "value"}]}


def upload(name, data: bytes):
    return {"name": name, "data": base64.b64encode(data).decode()}


def png_with(text: str | None) -> bytes:
    info = PngInfo()
    if text is not None:
        info.add_text("fluxwire.workflow", text)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_catalogue_matches_the_registry_and_the_connection_table(executor):
    cat = node_catalogue(executor, fresh=True)
    classes = [d for d in cat["nodes"] if "subgraph" not in d]
    assert [d["type"] for d in classes] == [d["type"] for d in executor.registry.describe(executor.env)]
    library = sorted(d["subgraph"]["library"] for d in cat["nodes"] if "subgraph" in d)  # the shipped library
    assert library == ["flux-dev-t2i", "flux-sample", "flux-schnell-t2i"]
    types = cat["types"]
    # the browser's rule is rebuilt from this table; it must agree with the Python rule for every pair
    names = list(types["types"])
    widen = {tuple(w) for w in types["widenings"]}
    for o in names:
        for i in names:
            js_rule = o == types["any"] or i == types["any"] or o == i or (o, i) in widen
            assert js_rule == can_connect(o, i), (o, i)


def test_opening_json_and_png_gives_the_document_back(executor):
    res = read_uploaded_workflow(upload("w.json", json.dumps(GOOD).encode()), executor)
    assert res["ok"] and res["problems"] == []
    assert res["workflow"] == parse_document(GOOD).to_dict()
    res = read_uploaded_workflow(upload("pic.png", png_with(json.dumps(GOOD))), executor)
    assert res["ok"] and res["workflow"]["nodes"] == parse_document(GOOD).to_dict()["nodes"]


@pytest.mark.parametrize("name,data,code", [
    ("notes.txt", b"{}", "bad_file_type"),
    ("w.json", b"{not json", "not_json"),
    ("pic.png", png_with(None), "no_workflow"),
    ("fake.png", b"GIF89a....", "bad_file_type"),
    ("w.json", json.dumps({"format": "x"}).encode(), "bad_format"),
])
def test_bad_uploads_are_refused_with_a_reason(executor, name, data, code):
    res = read_uploaded_workflow(upload(name, data), executor)
    assert res["ok"] is False and res["workflow"] is None
    assert code in {p["code"] for p in res["problems"]}
    assert res["message"]


def test_uploads_are_limited_in_size(executor):
    res = read_uploaded_workflow({"name": "big.json", "data": "A" * (MAX_UPLOAD_BYTES * 4 // 3 + 100)}, executor)
    assert not res["ok"] and res["problems"][0]["code"] == "too_large"
    assert not read_uploaded_workflow({"name": "w.json", "data": "%%%"}, executor)["ok"]
    assert not read_uploaded_workflow("not a dict", executor)["ok"]


def test_a_document_with_problems_still_opens_and_lists_them(executor, registry):
    bad = json.loads(json.dumps(GOOD))
    bad["nodes"][0]["widgets"]["value"] = "five"
    res = read_uploaded_workflow(upload("w.json", json.dumps(bad).encode()), executor)
    assert res["ok"]
    with pytest.raises(WorkflowError) as cli:
        check(parse_document(bad), registry, executor.env)
    assert res["problems"] == [p.to_dict() for p in cli.value.problems]


def test_validate_graph_server_function_reports_like_the_cli(executor, registry):
    import gradio as gr

    with gr.Blocks():
        canvas = NodeCanvas(executor=executor)
    bad = json.loads(json.dumps(GOOD))
    bad["links"][0]["output"] = "nope"
    res = canvas.validate_graph(bad)
    with pytest.raises(WorkflowError) as cli:
        check(parse_document(bad), registry, executor.env)
    assert res["problems"] == [p.to_dict() for p in cli.value.problems]
    assert canvas.validate_graph(GOOD)["problems"] == []
    assert canvas.shipped_workflow("../../etc/passwd")["ok"] is False
    assert canvas.validate_graph([1, 2])["problems"][0]["code"] == "not_an_object"


def test_the_component_value_round_trips_and_describes_itself(executor):
    canvas = NodeCanvas(GOOD, executor=executor, render=False)
    assert canvas.value == GOOD
    assert canvas.api_info()["type"] == "object"
    # Gradio re-creates the component for every prop update: every prop must be a named keyword
    again = NodeCanvas(**{**canvas.constructor_args, "run_state": {"run_id": "x"}, "render": False})
    assert again.props["run_state"] == {"run_id": "x"}


@pytest.mark.parametrize("host,local", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                        ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                        ("example.org", False)])
def test_only_loopback_hosts_are_served_without_a_warning(host, local):
    import inspect

    from web.app import host_warning, serve

    assert (host_warning(host) is None) is local
    if not local:
        assert host in host_warning(host) and "no login" in host_warning(host)
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_uploaded_pictures_are_checked_and_never_overwrite(executor):
    import base64
    import io

    from PIL import Image

    from web.canvas import save_uploaded_image

    def encode(image, fmt="PNG"):
        buf = io.BytesIO()
        image.save(buf, format=fmt)
        return base64.b64encode(buf.getvalue()).decode()

    red, blue = encode(Image.new("RGB", (8, 8), "red")), encode(Image.new("RGB", (8, 8), "blue"))
    first = save_uploaded_image({"name": "../../etc/photo.png", "data": red}, executor)
    assert first["ok"] and first["name"] == "photo.png"
    assert (executor.env.input_dir / "photo.png").is_file()
    again = save_uploaded_image({"name": "photo.png", "data": red}, executor)
    assert again["ok"] and again["name"] == "photo.png"  # same bytes: the same file
    other = save_uploaded_image({"name": "photo.png", "data": blue}, executor)
    assert other["ok"] and other["name"] == "photo-1.png"
    with Image.open(executor.env.input_dir / "photo.png") as im:
        assert im.getpixel((0, 0)) == (255, 0, 0)
    assert not save_uploaded_image({"name": "x.exe", "data": red}, executor)["ok"]
    assert not save_uploaded_image({"name": "fake.png", "data": base64.b64encode(b"not a picture").decode()},
                                   executor)["ok"]
    assert not save_uploaded_image({"name": "y.png", "data": "%%%"}, executor)["ok"]
