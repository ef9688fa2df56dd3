"""ComfyUI's FLUX.1 tools documents (Canny full model, Depth control LoRA, Redux) open in fluxwire and run
end to end on tiny files under the real names; the picture inputs really steer the result."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from flux_core import Executor, load_workflow
from flux_core.graph.context import Environment

from tests.nodes.control_models import write_tools_models

from .conftest import fixture


@pytest.fixture(scope="module")
def tools_models(comfy_models, tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("tools") / "models"
    shutil.copytree(comfy_models, root)
    return write_tools_models(root)


@pytest.fixture
def run(tools_models, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    g = np.random.default_rng(3)
    for name in ("control.png", "depth.png", "style.png", "other.png"):
        picture = (g.random((72, 64, 3)) * 255).astype(np.uint8)
        picture[20:50, 16:48] = 230  # a bright block: edges and depth
        Image.fromarray(picture).save(inputs / name)
    ex = Executor(models_dir=tools_models, output_dir=tmp_path / "out", input_dir=inputs)

    def go(data, node):
        workflow = load_workflow(data, env=Environment(models_dir=tools_models, input_dir=inputs))
        result = ex.run(workflow, outputs=[node])
        return workflow, result.outputs[node]

    return go


def _with_picture(data, node, picture):
    data = copy.deepcopy(data)
    data[node]["inputs"]["image"] = picture
    return data


def test_comfyui_canny_document_runs_and_follows_the_picture(run):
    data = fixture("api_canny.json")
    workflow, out = run(data, "10")
    assert [workflow.nodes[n].type for n in ("7", "9", "10")] == ["Canny", "InstructPixToPixConditioning", "KSampler"]
    assert workflow.nodes["7"].widgets == {"low_threshold": 0.2, "high_threshold": 0.5}
    latent = out["latent"]
    assert (latent.width, latent.height) == (64, 64)  # the 64x72 picture, cropped to multiples of 16
    _, other = run(_with_picture(data, "6", "other.png"), "10")
    assert (latent.samples - other["latent"].samples).abs().max() > 1e-3


def test_comfyui_depth_lora_document_runs_with_the_widened_model(run):
    data = fixture("api_depth_lora.json")
    workflow, out = run(data, "10")
    assert workflow.nodes["13"].type == "LoadLoRA" and workflow.nodes["7"].type == "ImageInvert"
    _, other = run(_with_picture(data, "6", "other.png"), "10")
    assert (out["latent"].samples - other["latent"].samples).abs().max() > 1e-3
    no_lora = copy.deepcopy(data)
    no_lora["10"]["inputs"]["model"] = ["1", 0]
    with pytest.raises(Exception) as e:  # a plain dev model cannot read the depth picture
        run(no_lora, "10")
    assert "Canny/Depth" in str(e.value)


def test_comfyui_redux_document_runs_and_the_picture_changes_the_prompt(run):
    data = fixture("api_redux.json")
    workflow, out = run(data, "10")
    assert [workflow.nodes[n].type for n in ("7", "8", "9", "10")] == \
        ["LoadVisionEncoder", "EncodeImage", "LoadStyleModel", "ApplyStyle"]
    cond = out["conditioning"]
    _, plain = run(data, "5")
    assert cond.txt.shape[1] == plain["conditioning"].txt.shape[1] + 16  # 4x4 image tokens appended
    _, other = run(_with_picture(data, "6", "other.png"), "10")
    assert (cond.txt - other["conditioning"].txt).abs().max() > 1e-3
    _, sampled = run(data, "13")
    assert torch.isfinite(sampled["latent"].samples).all()


def test_comfyui_attn_bias_strength_is_refused_by_name(tools_models):
    data = fixture("api_redux.json")
    data["10"]["inputs"]["strength_type"] = "attn_bias"
    from flux_core.graph.workflow import WorkflowError

    with pytest.raises(WorkflowError) as e:
        load_workflow(data, env=Environment(models_dir=tools_models))
    assert "strength_type" in str(e.value) and "multiply" in str(e.value)


@pytest.mark.parametrize("name", ["api_canny.json", "api_depth_lora.json", "api_redux.json"])
def test_tools_documents_export_back_to_the_same_prompt(tools_models, name):
    from flux_core.interop.comfyui.export import to_api_prompt
    from flux_core.graph.registry import default_registry

    data = fixture(name)
    for node in data.values():  # a shipped picture, so the document validates without an input folder
        if node["class_type"] == "LoadImage":
            node["inputs"]["image"] = "example.png"
    exported = to_api_prompt(load_workflow(data, env=Environment(models_dir=tools_models)), default_registry())
    for nid, node in data.items():
        if node["class_type"] == "LoraLoaderModelOnly":  # LoadLoRA is written as ComfyUI's LoraLoader
            assert exported[nid]["class_type"] == "LoraLoader"
            continue
        assert exported[nid]["class_type"] == node["class_type"]
        ignored = {"device", "upload"}
        assert {k: v for k, v in exported[nid]["inputs"].items() if k not in ignored} == \
            {k: v for k, v in node["inputs"].items() if k not in ignored}, nid


def test_downsampled_style_has_no_comfyui_twin_value(tools_models):
    from flux_core.interop.comfyui.export import to_api_prompt
    from flux_core.graph.registry import default_registry
    from flux_core.graph.workflow import WorkflowError

    data = fixture("api_redux.json")
    data["6"]["inputs"]["image"] = "example.png"
    workflow = load_workflow(data, env=Environment(models_dir=tools_models))
    workflow.nodes["10"].widgets["downsampling_factor"] = 3
    with pytest.raises(WorkflowError) as e:
        to_api_prompt(workflow, default_registry())
    assert "downsampling_factor" in str(e.value)
