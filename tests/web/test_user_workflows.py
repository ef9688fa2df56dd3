"""The user's workflows folder (web/user_workflows.py) and the catalogue's ComfyUI class names, without a browser.

Real files in a temporary folder: names that would leave the folder are refused and nothing is written
outside it; nothing saved is overwritten unless asked; the written file is the document, loadable again.
"""
from __future__ import annotations

import json

import pytest

from flux_core.graph.workflow import loads_document
from web.user_workflows import WorkflowFolder, WorkflowFolderError, handle_request


def document(value=7, title="t"):
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"title": title},
            "nodes": [{"id": "a", "type": "IntValue", "widgets": {"value": value}, "ui": {"pos": [0, 0]}},
                      {"id": "b", "type": "ShowValue", "widgets": {}, "ui": {"pos": [300, 0], "collapsed": True}}],
            "links": [{"from": "a", "output": "value", "to": "b", "input": "value"}],
            "groups": [{"title": "g", "bounding": [0, 0, 500, 200], "color": "#335"}]}


def test_save_list_load_rename_delete(tmp_path):
    folder = WorkflowFolder(tmp_path / "wf")
    assert folder.list() == []
    assert folder.save("portrait v1", document(7)) == "portrait v1"
    saved = tmp_path / "wf" / "portrait v1.json"
    loaded = loads_document(saved.read_text())  # a real workflow file, readable by the engine's loader
    assert loaded.to_dict()["nodes"][0]["widgets"] == {"value": 7}
    assert loaded.to_dict()["metadata"]["title"] == "portrait v1"
    assert folder.load("portrait v1")["groups"] == document()["groups"]
    assert folder.load("portrait v1")["nodes"][1]["ui"]["collapsed"] is True
    with pytest.raises(WorkflowFolderError, match="already exists"):
        folder.save("portrait v1", document(8))  # Save as never overwrites
    assert folder.load("portrait v1")["nodes"][0]["widgets"]["value"] == 7
    folder.save("portrait v1", document(8), overwrite=True)  # Save of the open document does
    assert folder.load("portrait v1")["nodes"][0]["widgets"]["value"] == 8
    folder.save("other", document(1))
    assert sorted(w["name"] for w in folder.list()) == ["other", "portrait v1"]
    with pytest.raises(WorkflowFolderError, match="already exists"):
        folder.rename("other", "portrait v1")
    assert folder.rename("other", "renamed") == "renamed"
    assert not (tmp_path / "wf" / "other.json").exists() and (tmp_path / "wf" / "renamed.json").is_file()
    folder.delete("renamed")
    assert [w["name"] for w in folder.list()] == ["portrait v1"]
    assert [p.name for p in (tmp_path / "wf").iterdir()] == ["portrait v1.json"]  # no temporary files left


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "/etc/passwd", "x\\y", "", " ", "a" * 101,
                                  "con.", 5, None, "tab\tname"])
def test_names_that_leave_the_folder_are_refused(tmp_path, name):
    folder = WorkflowFolder(tmp_path / "wf")
    res = handle_request(folder, {"op": "save", "name": name, "workflow": document()})
    assert res["ok"] is False and "name" in res["message"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_requests_through_the_server_function_shape(tmp_path):
    folder = WorkflowFolder(tmp_path / "wf")
    assert handle_request(folder, {"op": "list"}) == {"ok": True, "message": "", "workflows": []}
    bad = handle_request(folder, {"op": "save", "name": "x", "workflow": {"nodes": "nope"}})
    assert bad["ok"] is False and "format" in bad["message"]
    assert not (tmp_path / "wf" / "x.json").exists()
    ok = handle_request(folder, {"op": "save", "name": "x.json", "workflow": document()})
    assert ok["ok"] and ok["name"] == "x" and [w["name"] for w in ok["workflows"]] == ["x"]
    assert handle_request(folder, {"op": "load", "name": "missing"})["message"] == \
        "there is no saved workflow named 'missing'"
    assert handle_request(folder, {"op": "explode"})["ok"] is False
    assert handle_request(folder, "not a request")["ok"] is False
    (tmp_path / "wf" / "broken.json").write_text("{not json")
    assert handle_request(folder, {"op": "load", "name": "broken"})["ok"] is False
    assert json.loads((tmp_path / "wf" / "x.json").read_text())["links"] == document()["links"]


def test_catalogue_names_the_comfyui_classes_of_each_node(executor):
    from web.canvas import node_catalogue

    by_type = {d["type"]: d for d in node_catalogue(executor, fresh=True)["nodes"]}
    assert "CLIPTextEncode" in by_type["TextEncode"]["comfy_classes"]
    assert by_type["KSampler"]["comfy_classes"] == ["KSampler"]
    assert set(by_type["EmptyLatent"]["comfy_classes"]) == {"EmptySD3LatentImage", "EmptyLatentImage"}
    assert by_type["SlowSteps"]["comfy_classes"] == []  # a test-pack node ComfyUI has no twin for
