"""The shipped FLUX.1 tools workflows (Canny, Depth, Redux) validate and run end to end on tiny random files
under the real names, with the shipped input pictures; the control picture and the style picture steer
the result, and each model file carries its download folder and address."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flux_core import Executor, load_workflow

from .control_models import write_tools_models

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TOOLS = ["flux-canny.json", "flux-depth.json", "flux-redux.json"]
SMALL = {"flux-canny.json": {"scale.megapixels": 0.02, "scheduler.steps": 2},
         "flux-depth.json": {"scale.megapixels": 0.02, "scheduler.steps": 2},
         "flux-redux.json": {"latent.width": 96, "latent.height": 96, "scheduler.steps": 2}}


@pytest.fixture(scope="module")
def tools_dir(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tools_models")
    shutil.copytree(models_dir, root, dirs_exist_ok=True)
    return write_tools_models(root)


def test_the_tools_workflows_are_shipped_with_their_pictures():
    for name in TOOLS:
        assert (WORKFLOWS / name).is_file()
    assert (WORKFLOWS / "input" / "house-example.png").is_file()


@pytest.mark.parametrize("name", TOOLS)
def test_tools_workflow_validates_and_names_where_each_file_goes(tools_dir, name):
    ex = Executor(models_dir=tools_dir)
    load_workflow(WORKFLOWS / name, env=ex.env)
    doc = json.loads((WORKFLOWS / name).read_text())
    folders = {m["name"]: m["folder"] for n in doc["nodes"] for m in n.get("properties", {}).get("models", [])}
    expected = {"flux-canny.json": {"flux1-canny-dev.safetensors": "diffusion_models"},
                "flux-depth.json": {"flux1-depth-dev.safetensors": "diffusion_models"},
                "flux-redux.json": {"sigclip_vision_patch14_384.safetensors": "clip_vision",
                                    "flux1-redux-dev.safetensors": "style_models"}}[name]
    assert expected.items() <= folders.items()


@pytest.mark.slow
@pytest.mark.parametrize("name", TOOLS)
def test_tools_workflow_runs_and_its_picture_input_steers_it(tools_dir, tmp_path, name):
    ex = Executor(models_dir=tools_dir, output_dir=tmp_path)
    workflow = load_workflow(WORKFLOWS / name, env=ex.env)
    result = ex.run(workflow, overrides=SMALL[name])
    (png,) = result.ui["save"]["images"]
    picture = np.asarray(Image.open(png))
    assert picture.ndim == 3 and picture.std() > 1.0
    if name != "flux-redux.json":
        (preview,) = result.ui["control_preview"]["images"]
        control = np.asarray(Image.open(preview).convert("L"), dtype=np.float32)
        assert control.std() > 10  # the house's edges / depth, not a blank map
    # another picture in: another result (the picture really conditions the model)
    other = ex.run(workflow, overrides={**SMALL[name], "image.image": "house-example.png" if name == "flux-redux.json"
                                        else "example.png"})
    (png2,) = other.ui["save"]["images"]
    assert np.abs(np.asarray(Image.open(png2), dtype=np.int16) - picture.astype(np.int16)).max() > 0
