"""The canvas's "save to library" server function: checked names, checked definitions, nothing overwritten."""
import copy
import json

from flux_core.graph.executor import Executor
from flux_core.graph.library import Library
from web.canvas import node_catalogue
from web.library_save import save_library_entry

DEFINITION = {"name": "Scale", "category": "mine", "inputs": [{"name": "x", "type": "FLOAT"}],
              "outputs": [{"name": "y", "type": "FLOAT"}],
              "nodes": [{"id": "m", "type": "Math", "widgets": {"b": 2, "op": "multiply"}}],
              "links": [{"from": "@inputs", "output": "x", "to": "m", "input": "a"},
                        {"from": "m", "output": "result", "to": "@outputs", "input": "y"}]}


def test_save_writes_a_subgraph_file_that_the_catalogue_lists(registry, tmp_path):
    ex = Executor(registry, library_dir=tmp_path / "lib", models_dir=tmp_path / "models")
    res = save_library_entry({"name": "tools/scale", "definition": DEFINITION}, ex)
    assert res["ok"], res
    path = tmp_path / "lib" / "tools" / "scale.json"
    assert json.loads(path.read_text())["format"] == "fluxwire.subgraph"
    assert Library(tmp_path / "lib").find("tools/scale") == path
    listed = {n["subgraph"]["library"]: n for n in node_catalogue(ex, fresh=True)["nodes"] if "subgraph" in n}
    assert listed["tools/scale"]["category"] == "mine"
    again = save_library_entry({"name": "tools/scale", "definition": DEFINITION}, ex)
    assert again["ok"] and "already" in again["message"]


def test_save_refuses_bad_names_broken_definitions_and_overwriting(registry, tmp_path):
    ex = Executor(registry, library_dir=tmp_path / "lib", models_dir=tmp_path / "models")
    for name in ("../escape", "/abs", "a/../b", "", ".hidden", "x" * 0):
        res = save_library_entry({"name": name, "definition": DEFINITION}, ex)
        assert not res["ok"] and "library name" in res["message"], name
    broken = copy.deepcopy(DEFINITION)
    broken["links"][0]["output"] = "nope"
    res = save_library_entry({"name": "broken", "definition": broken}, ex)
    assert not res["ok"] and "'nope'" in res["message"]
    assert not (tmp_path / "lib" / "broken.json").exists()
    assert save_library_entry({"name": "scale", "definition": DEFINITION}, ex)["ok"]
    other = dict(DEFINITION, name="Other")
    res = save_library_entry({"name": "scale", "definition": other}, ex)
    assert not res["ok"] and "already has an entry" in res["message"]
    assert json.loads((tmp_path / "lib" / "scale.json").read_text())["name"] == "Scale"
    assert not save_library_entry("garbage", ex)["ok"]
