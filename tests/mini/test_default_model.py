"""flux-mini through the product: the shipped files load through the public loaders, and the default
workflow draws what the prompt asks for — and stops doing so when the FLUX math is broken on purpose."""
from pathlib import Path

import numpy as np
import pytest
import torch

import flux_core.sampling as sampling
from flux_core import load_workflow
from flux_core.mini import data, scorer
from flux_core.model_folders import SHIPPED_MODELS

WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "flux-mini.json"
PROMPTS = data.evaluation_prompts(48)


def generate(executor, prompts=PROMPTS):
    """Run the default workflow once per prompt (seed = prompt index); return uint8 pictures."""
    workflow = load_workflow(WORKFLOW, env=executor.env)
    pictures = []
    for i, prompt in enumerate(prompts):
        result = executor.run(workflow, overrides={"prompt.text": prompt, "noise.seed": i}, outputs=["decode"])
        image = result.outputs["decode"]["image"][0]
        pictures.append((image.numpy() * 255).round().astype(np.uint8))
    return pictures


def test_shipped_files_load_through_the_public_loaders():
    from flux_core import load_diffusion_model, load_text_encoders, load_vae

    model = load_diffusion_model(SHIPPED_MODELS / "diffusion_models" / "flux-mini.safetensors", device="cpu")
    ae = load_vae(SHIPPED_MODELS / "vae" / "flux-mini-ae.safetensors", device="cpu")
    text = load_text_encoders(SHIPPED_MODELS / "text_encoders" / "flux-mini-t5.safetensors",
                              SHIPPED_MODELS / "text_encoders" / "flux-mini-clip.safetensors",
                              device="cpu", models_dir=SHIPPED_MODELS)
    assert not model.params.guidance_embed and model.params.in_channels == 64
    assert ae.params.z_channels == 16 and ae.params.norm_groups == 4
    txt, vec = text.encode(["a large red circle on a blue background, center"], no_grad=True)
    assert txt.shape[-1] == model.params.context_in_dim and vec.shape[-1] == model.params.vec_in_dim
    total = sum(p.stat().st_size for p in SHIPPED_MODELS.rglob("*") if p.is_file())
    assert total <= 20 * 2**20


def test_default_workflow_follows_the_prompt(shipped_only_executor):
    result = scorer.score(generate(shipped_only_executor), PROMPTS)
    print("flux-mini scores:", result)
    assert result["background"] >= 0.9 and result["colour"] >= 0.9 and result["position"] >= 0.9
    assert result["shape"] >= 0.8


BROKEN = {
    "euler step sign flipped": ("euler_step", lambda orig: lambda x, v, tc, tp: orig(x, -v, tc, tp)),
    "RoPE switched off": ("img_ids", lambda orig: lambda b, h, w, device="cpu": torch.zeros_like(orig(b, h, w, device))),
    "schedule reversed": ("schedule_for_denoise", lambda orig: lambda *a, **k: list(reversed(orig(*a, **k)))),
}


@pytest.mark.parametrize("bug", list(BROKEN))
def test_the_scorer_sees_broken_math(shipped_only_executor, monkeypatch, bug):
    name, breaker = BROKEN[bug]
    monkeypatch.setattr(sampling, name, breaker(getattr(sampling, name)))
    prompts = PROMPTS[:24]
    result = scorer.score(generate(shipped_only_executor, prompts), prompts)
    print(bug, result)
    assert result["all"] <= 0.3
    assert min(result["background"], result["colour"], result["position"]) < 0.6
