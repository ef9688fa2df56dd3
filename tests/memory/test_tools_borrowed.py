"""Redux's vision encoder and style model and the depth estimator are borrowed through the memory manager
like every other model (adopted from the CPU, placed by a plan, evicted for room): on a simulated device
whose budget holds only the largest model, the tools workflows give the unlimited run's pictures bit for
bit with the peak in budget. The activation reserve counts Kontext's reference tokens and Redux's tokens."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flux_core import Executor, load_workflow
from flux_core.memory import MemoryManager, SimulatedDevice, activation_reserve

from ..nodes.control_models import write_tools_models
from ..nodes.test_fill_kontext_workflows import small_kontext
from ..nodes.test_tools_workflows import SMALL

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
UNLIMITED = 1 << 40
TOOL_MODELS = {"flux-redux.json": ("sigclip_vision_patch14_384.safetensors", "flux1-redux-dev.safetensors"),
               "flux-depth.json": ("depth-anything-v2-small",)}


@pytest.fixture(scope="module")
def tools_dir(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tools_models")
    shutil.copytree(models_dir, root, dirs_exist_ok=True)
    return write_tools_models(root)


def _run(models, out, name, capacity, overrides):
    manager = MemoryManager(SimulatedDevice(capacity))
    executor = Executor(models_dir=models, output_dir=out, memory=manager)
    result = executor.run(load_workflow(WORKFLOWS / name, env=executor.env), overrides=overrides)
    return result, manager


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TOOL_MODELS))
def test_tool_models_are_borrowed_and_evicted_like_the_others(tools_dir, tmp_path, name):
    reference, manager = _run(tools_dir, tmp_path / "a", name, UNLIMITED, SMALL[name])
    adopted = {e["model"]: e["bytes"] for e in manager.events if e["event"] == "adopted"}
    for model in TOOL_MODELS[name]:  # (the depth estimator lives for its node only: adopted, then dropped)
        assert model in adopted, f"{model} was not handed to the memory manager: {sorted(adopted)}"
        plans = [e for e in manager.events if e["event"] == "plan" and e["model"] == model]
        assert plans, f"{model} computed without a borrow"
    picture = reference.outputs["decode"]["image"].numpy()
    budget = max(adopted.values()) + 1024
    result, tight = _run(tools_dir, tmp_path / "b", name, budget, SMALL[name])
    assert np.array_equal(result.outputs["decode"]["image"].numpy(), picture)
    assert 0 < tight.peak_device_bytes <= budget
    assert [e for e in tight.events if e["event"] == "evicted"]


def test_the_activation_reserve_counts_kontext_references_and_redux_tokens(tools_dir, models_dir, tmp_path):
    doc = small_kontext(json.loads((WORKFLOWS / "flux-kontext-edit.json").read_text()))
    manager = MemoryManager(SimulatedDevice(UNLIMITED))
    result = Executor(models_dir=models_dir, output_dir=tmp_path / "k", memory=manager).run(
        doc, overrides={"scheduler.steps": 1})
    cond = result.outputs["guidance"]["conditioning"]
    (ref,) = cond.references
    latent = result.outputs["sampler"]["latent"]
    params = result.outputs["model"]["model"].params
    ref_tokens = (ref.shape[-2] // 2) * (ref.shape[-1] // 2)
    assert ref_tokens > 0
    expected = activation_reserve(latent.width, latent.height, latent.batch, cond.txt.shape[1], params.hidden_size,
                                  params.mlp_ratio, extra_tokens=ref_tokens)
    assert manager.reserve == expected > activation_reserve(
        latent.width, latent.height, latent.batch, cond.txt.shape[1], params.hidden_size, params.mlp_ratio)

    # Redux: its image tokens are appended to the prompt's, and the reserve sees them there
    redux, manager = _run(tools_dir, tmp_path / "r", "flux-redux.json", UNLIMITED, SMALL["flux-redux.json"])
    prompt_tokens = redux.outputs["prompt"]["conditioning"].txt.shape[1]
    styled = redux.outputs["style"]["conditioning"].txt.shape[1]
    features = redux.outputs["see"]["clip_vision_output"].last_hidden_state
    assert styled - prompt_tokens == features.shape[1] > 0  # downsampling 1: one token per vision patch
    latent = redux.outputs["sampler"]["latent"]
    params = redux.outputs["model"]["model"].params
    assert manager.reserve == activation_reserve(latent.width, latent.height, latent.batch, styled,
                                                 params.hidden_size, params.mlp_ratio)
