"""Every shipped workflow validates and runs end to end on tiny random files with the real names and layouts,
and the PNG it writes carries the workflow that made it."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flux_core import Executor, WorkflowError, load_workflow
from flux_core.pnginfo import text_chunks
from flux_core.graph.workflow import dumps_document, read_document

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FLUX_WORKFLOWS = ["flux-schnell.json", "flux-dev.json", "flux-schnell-checkpoint.json", "flux-img2img.json",
                  "flux-step-by-step.json"]
SMALL = 128  # pixels; the shipped 1024 would only make the tiny autoencoder slow


def small(workflow):
    """Overrides that shrink every EmptyLatent, so the run tests the graph, not the CPU."""
    return {f"{nid}.{k}": SMALL for nid, n in workflow.nodes.items() if n.type == "EmptyLatent"
            for k in ("width", "height")}


def test_every_shipped_workflow_is_listed_here():
    shipped = sorted(p.name for p in WORKFLOWS.glob("*.json"))
    assert set(FLUX_WORKFLOWS) <= set(shipped)


@pytest.mark.parametrize("name", FLUX_WORKFLOWS)
def test_shipped_workflow_validates_against_the_tiny_models(models_dir, name):
    ex = Executor(models_dir=models_dir)
    load_workflow(WORKFLOWS / name, env=ex.env)


@pytest.mark.slow
@pytest.mark.parametrize("name", FLUX_WORKFLOWS)
def test_shipped_workflow_runs_and_its_png_carries_the_document(models_dir, tmp_path, name):
    ex = Executor(models_dir=models_dir, output_dir=tmp_path)
    workflow = load_workflow(WORKFLOWS / name, env=ex.env)
    overrides = small(workflow)
    result = ex.run(workflow, overrides=overrides)
    (png,) = result.ui["save"]["images"]
    picture = np.asarray(Image.open(png))
    assert picture.ndim == 3 and picture.shape[2] == 3
    assert picture.std() > 1.0, "a random model still gives a non-constant picture"
    # the embedded document is the one that ran (overrides applied) and loads back to the same text
    embedded = read_document(png)
    expected = ex.validate(workflow, overrides).workflow
    assert dumps_document(embedded) == dumps_document(expected)
    summary = text_chunks(Path(png).read_bytes())["parameters"]
    assert "seed: 0" in summary and "steps:" in summary and "prompt: " in summary


def test_missing_model_file_names_the_file_folder_and_download_url(tmp_path):
    ex = Executor(models_dir=tmp_path / "empty")
    with pytest.raises(WorkflowError) as e:
        load_workflow(WORKFLOWS / "flux-schnell.json", env=ex.env)
    by_input = {(p.node, p.input): p for p in e.value.problems}
    p = by_input[("model", "model_name")]
    assert p.code == "missing_model"
    assert "flux1-schnell.safetensors" in p.message and "diffusion_models" in p.message
    assert "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/flux1-schnell.safetensors" in p.message
    assert ("text_encoders", "t5_name") in by_input and ("vae", "vae_name") in by_input
