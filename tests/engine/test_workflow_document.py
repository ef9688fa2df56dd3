"""The document format: structural errors, validation errors, deterministic atomic saving, PNG embedding."""
import json
import os

import pytest

from flux_core import load_workflow, save_workflow
from flux_core.graph.workflow import WorkflowError, dumps_document, loads_document, parse_document, read_document

from .conftest import doc


def problems_of(source, registry=None, **kw):
    with pytest.raises(WorkflowError) as e:
        if registry is None:
            loads_document(source) if isinstance(source, str) else parse_document(source)
        else:
            load_workflow(source, registry=registry, **kw)
    return e.value.problems


def good():
    return doc([("x", "Number", {"value": 2}), ("out", "Sink", {})], [("x", "value", "out", "value")],
               metadata={"title": "t", "author": "me"})


def test_not_json_gives_line_and_column():
    (p,) = problems_of('{"format": "fluxwire.workflow",\n "nodes": [}')
    assert p.code == "not_json" and "line 2" in p.message


@pytest.mark.parametrize("data, code", [
    ([], "not_an_object"),
    ({"format": "other", "version": 1, "nodes": []}, "bad_format"),
    ({"format": "fluxwire.workflow", "version": "1", "nodes": []}, "bad_version"),
    ({"format": "fluxwire.workflow", "version": 99, "nodes": []}, "newer_version"),
    ({"format": "fluxwire.workflow", "version": 1}, "missing_field"),
    ({"format": "fluxwire.workflow", "version": 1, "nodes": {}}, "bad_type"),
    ({"format": "fluxwire.workflow", "version": 1, "nodes": [], "junk": 1}, "unknown_key"),
    ({"format": "fluxwire.workflow", "version": 1, "nodes": [{"type": "Number"}]}, "bad_id"),
    ({"last_node_id": 3, "nodes": [], "links": []}, "empty"),  # ComfyUI documents are converted (interop)
    ({"3": {"class_type": "SomeCustomNode", "inputs": {}}}, "unsupported_class"),
])
def test_structural_problems_have_codes(data, code):
    assert code in [p.code for p in problems_of(data)]


def test_every_structural_problem_is_listed_with_node_and_input():
    d = doc([("a", "Number", {"value": [1, 2]}), ("a", "Number", {}), ("b", "", {})],
            [("a", "value", "ghost", "value"), ("nobody", "value", "a", "value")])
    d["links"].append({"from": "a", "to": "b"})
    probs = problems_of(d)
    codes = sorted(p.code for p in probs)
    assert codes == sorted(["bad_value", "duplicate_id", "bad_type", "missing_node", "missing_node", "bad_link"])
    bad_value = next(p for p in probs if p.code == "bad_value")
    assert (bad_value.node, bad_value.input) == ("a", "value")
    missing = next(p for p in probs if p.code == "missing_node" and "nobody" in p.message)
    assert (missing.node, missing.input) == ("a", "value")


def test_graph_problems_are_all_reported_together(registry):
    d = doc([("n", "Number", {"value": 5000}), ("t", "Text", {}), ("add", "Add", {}), ("u", "NoSuchNode", {}),
             ("out", "Sink", {})],
            [("t", "text", "add", "a"), ("n", "nothing", "out", "value")])
    probs = problems_of(d, registry)
    by_code = {p.code: p for p in probs}
    assert set(by_code) == {"bad_value", "type_mismatch", "unknown_type", "missing_output"}
    assert (by_code["bad_value"].node, by_code["bad_value"].input) == ("n", "value")
    assert "between -1000 and 1000" in by_code["bad_value"].message
    assert (by_code["type_mismatch"].node, by_code["type_mismatch"].input) == ("add", "a")
    assert "STRING" in by_code["type_mismatch"].message and "FLOAT" in by_code["type_mismatch"].message
    assert by_code["unknown_type"].node == "u"


def test_missing_required_input_and_unknown_widget(registry):
    d = doc([("add", "Add", {"c": 1}), ("out", "Sink", {})], [("add", "sum", "out", "value")])
    probs = problems_of(d, registry)
    assert {(p.node, p.input, p.code) for p in probs} == {("add", "a", "missing_input"), ("add", "c", "unknown_input")}


def test_cycle_is_reported_with_its_nodes(registry):
    d = doc([("a", "Add", {}), ("b", "Add", {}), ("out", "Sink", {})],
            [("a", "sum", "b", "a"), ("b", "sum", "a", "a"), ("b", "sum", "out", "value")])
    (p,) = problems_of(d, registry)
    assert p.code == "cycle" and "'a'" in p.message and "'b'" in p.message


def test_two_links_into_one_input_are_refused():
    d = doc([("x", "Number", {}), ("y", "Number", {}), ("out", "Sink", {})],
            [("x", "value", "out", "value"), ("y", "value", "out", "value")])
    (p,) = problems_of(d)
    assert (p.code, p.node, p.input) == ("duplicate_link", "out", "value")


def test_old_node_version_is_migrated_and_newer_is_refused(registry):
    d = doc([("r", "Renamed", {"amount": 4.0}), ("out", "Sink", {})], [("r", "value", "out", "value")])
    d["nodes"][0]["version"] = 1
    from flux_core import Executor
    assert Executor(registry).run(d).ui["out"] == {"value": 4.0}
    d["nodes"][0]["version"] = 3
    (p,) = problems_of(d, registry)
    assert p.code == "newer_node" and p.node == "r"


def test_saving_is_deterministic_sorted_and_round_trips(tmp_path):
    wf = parse_document(good())
    text = dumps_document(wf)
    assert text.endswith("\n") and '\n  "format": "fluxwire.workflow"' in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    shuffled = good()
    shuffled["nodes"].reverse()
    shuffled["nodes"].reverse()
    shuffled = {k: shuffled[k] for k in reversed(list(shuffled))}
    assert dumps_document(parse_document(shuffled)) == text
    path = save_workflow(wf, tmp_path / "w.json")
    assert path.read_text() == text
    assert dumps_document(read_document(path)) == text


def test_save_is_atomic_and_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "w.json"
    target.write_text("precious")
    wf = parse_document(good())
    wf.metadata["bad"] = object()  # cannot be serialised: the save fails before touching the file
    with pytest.raises(TypeError):
        save_workflow(wf, target)
    assert target.read_text() == "precious"
    assert os.listdir(tmp_path) == ["w.json"]  # no temp file left behind


def test_png_with_embedded_workflow_loads_back(tmp_path):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    text = dumps_document(parse_document(good()))
    info.add_itxt("fluxwire.workflow", text)
    path = tmp_path / "pic.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    assert dumps_document(read_document(path)) == text
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    with pytest.raises(WorkflowError) as e:
        read_document(tmp_path / "plain.png")
    assert e.value.problems[0].code == "no_workflow"
    (tmp_path / "broken.png").write_bytes(path.read_bytes()[:60])
    with pytest.raises(WorkflowError):
        read_document(tmp_path / "broken.png")


def test_schema_file_accepts_shipped_style_documents_and_rejects_broken_ones():
    jsonschema = pytest.importorskip("jsonschema")
    from pathlib import Path
    schema = json.loads((Path(__file__).parents[2] / "docs" / "workflow.schema.json").read_text())
    jsonschema.validate(good(), schema)
    bad = good()
    bad["links"][0].pop("output")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
