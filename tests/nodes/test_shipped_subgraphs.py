"""The shipped library subgraphs and the workflows that use them: they validate, are listed as nodes, and run
to the very same pictures as the flat workflows they replace (on tiny random models of the real layout)."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flux_core import Executor, load_workflow
from flux_core.cli import main
from flux_core.graph.library import Library
from flux_core.graph.subgraph_files import load_subgraph_file
from flux_core.graph.workflow import read_document

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
LIBRARY = ["flux-dev-t2i", "flux-sample", "flux-schnell-t2i"]
SUBGRAPH_WORKFLOWS = ["flux-schnell-library.json", "flux-img2img-subgraph.json"]
SMALL = 128


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int16)


def test_the_shipped_library_lists_its_entries_and_each_is_a_valid_subgraph_file():
    entries = Library(ROOT / "no-user-library").entries()
    assert sorted(entries) == LIBRARY
    for path in entries.values():
        loaded = load_subgraph_file(path)
        assert loaded.definition.outputs and loaded.definition.name
        assert loaded.revision.startswith("sha256:")


def test_fluxwire_nodes_json_lists_library_subgraphs_as_nodes(capsys, tmp_path):
    assert main(["nodes", "--json", "--library-dir", str(tmp_path)]) == 0
    catalogue = json.loads(capsys.readouterr().out)
    entries = {n["subgraph"]["library"]: n for n in catalogue["nodes"] if n["type"] == "Subgraph"}
    assert sorted(entries) == LIBRARY
    t2i = entries["flux-schnell-t2i"]
    assert t2i["category"] == "subgraphs/flux" and t2i["display_name"] == "FLUX schnell text-to-image"
    assert [o["type"] for o in t2i["outputs"]] == ["IMAGE"]
    inputs = {i["name"]: i for i in t2i["inputs"]}
    assert set(inputs) == {"prompt", "seed", "width", "height", "steps"}
    # promoted widgets take their rules from the declaration, completed by the inner widget they feed
    assert inputs["width"]["widget"]["kind"] == "int" and inputs["width"]["widget"]["step"] == 16
    assert inputs["prompt"]["widget"]["multiline"] is True
    assert inputs["seed"]["widget"]["seed"] is True
    sample = {i["name"]: i for i in entries["flux-sample"]["inputs"]}
    assert sample["model"]["widget"] is None and sample["model"]["type"] == "MODEL"


@pytest.mark.parametrize("name", SUBGRAPH_WORKFLOWS)
def test_subgraph_workflow_validates_against_the_tiny_models(models_dir, name):
    ex = Executor(models_dir=models_dir)
    workflow = load_workflow(WORKFLOWS / name, env=ex.env)
    assert any(n.type == "Subgraph" for n in workflow.nodes.values())
    graph = ex.validate(workflow)
    assert all("/" in nid for nid, cls in graph.classes.items() if cls.type_name == "Sampler")


@pytest.mark.slow
def test_library_workflow_nests_subgraphs_loads_models_once_and_draws_what_the_flat_workflow_draws(
        models_dir, tmp_path):
    ex = Executor(models_dir=models_dir, output_dir=tmp_path)
    size = {f"{i}.{k}": SMALL for i in ("cabin", "harbour") for k in ("width", "height")}
    result = ex.run(read_document(WORKFLOWS / "flux-schnell-library.json"), overrides=size)
    # nested path ids: workflow -> flux-schnell-t2i -> flux-sample
    assert "cabin/sample/sampler" in result.outputs and "harbour/sample/sampler" in result.outputs
    loads = [n for n in result.executed + result.cached if n.endswith("/model")]
    assert sorted(loads) == ["cabin/model", "harbour/model"]
    assert len([n for n in result.executed if n.endswith("/model")]) == 1, "equal loaders compute once"
    cabin, harbour = result.ui["save_cabin"]["images"][0], result.ui["save_harbour"]["images"][0]
    assert np.abs(pixels(cabin) - pixels(harbour)).mean() > 1.0, "other prompt and seed, other picture"
    # the PNG carries the document as written (instances, not their expansion)
    embedded = read_document(cabin)
    assert embedded.nodes["cabin"].type == "Subgraph" and embedded.nodes["cabin"].widgets["width"] == SMALL

    flat = ex.run(WORKFLOWS / "flux-schnell.json", overrides={"latent.width": SMALL, "latent.height": SMALL})
    assert np.array_equal(pixels(flat.ui["save"]["images"][0]), pixels(cabin))


@pytest.mark.slow
def test_img2img_with_the_sample_subgraph_equals_the_flat_img2img(models_dir, tmp_path):
    ex = Executor(models_dir=models_dir, output_dir=tmp_path, input_dir=WORKFLOWS / "input")
    a = ex.run(WORKFLOWS / "flux-img2img-subgraph.json")
    b = ex.run(WORKFLOWS / "flux-img2img.json")
    assert np.array_equal(pixels(a.ui["save"]["images"][0]), pixels(b.ui["save"]["images"][0]))
    assert "sample/sampler" in a.timings or "sample/sampler" in a.cached
