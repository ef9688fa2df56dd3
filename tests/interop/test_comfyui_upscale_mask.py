"""LatentUpscale keeps the latent's noise mask, as ComfyUI's does (it copies the latent dict and resizes only
`samples`; the sampler fits the mask to the latent it gets). So an inpaint graph that upscales between the
mask and the sampler still repaints only the masked part: the rest comes out as the upscaled latent."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from flux_core import load_workflow
from flux_core.graph.context import Environment
from nodes.flux.image_ops import LatentUpscale, LatentUpscaleBy
from nodes.flux.values import Latent

from .conftest import fixture


UPSCALES = {"LatentUpscale": {"upscale_method": "bilinear", "width": 128, "height": 96, "crop": "disabled"},
            "LatentUpscaleBy": {"upscale_method": "bilinear", "scale_by": 2.0}}


def upscaled_inpaint(data: dict, upscale: str = "LatentUpscale") -> dict:
    """First pass as in the fixture (64x48), then SetLatentNoiseMask (left half painted) → LatentUpscale to
    128x96 (or LatentUpscaleBy 2) → KSampler at denoise 0.7."""
    data["43"] = {"class_type": "LoadImageMask", "inputs": {"image": "left_half.png", "channel": "red"}}
    data["44"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["13", 0], "mask": ["43", 0]}}
    data["40"] = {"class_type": upscale, "inputs": {"samples": ["44", 0], **UPSCALES[upscale]}}
    data["41"] = {"class_type": "KSampler",
                  "inputs": {"model": ["12", 0], "positive": ["6", 0], "negative": ["6", 0], "latent_image": ["40", 0],
                             "seed": 5, "steps": 2, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                             "denoise": 0.7}}
    data["8"]["inputs"]["samples"] = ["41", 0]
    return data


@pytest.mark.parametrize("upscale", sorted(UPSCALES))
def test_an_upscaled_inpaint_latent_repaints_only_the_mask(comfy_models, executor, upscale):
    plane = np.zeros((48, 64, 3), np.uint8)
    plane[:, :32, 0] = 255  # red: paint the left half
    executor.env.input_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(plane).save(executor.env.input_dir / "left_half.png")
    workflow = load_workflow(upscaled_inpaint(fixture("api_schnell_split.json"), upscale), env=Environment(
        models_dir=comfy_models, input_dir=executor.env.input_dir))
    result = executor.run(workflow, outputs=["44", "40", "41"])
    assert result.status == "success"
    masked = result.outputs["44"]["latent"]
    before, after = result.outputs["40"]["latent"], result.outputs["41"]["latent"]
    assert before.samples.shape[-2:] == (12, 16)
    mask = F.interpolate(masked.noise_mask.float()[:, None], size=(12, 16), mode="bilinear")[0, 0]
    kept, painted = mask == 0, mask == 1
    assert kept.sum() >= 40 and painted.sum() >= 40
    change = (after.samples[0] - before.samples[0]).abs().amax(dim=0)
    assert change[kept].max() < 1e-5  # the unmasked part is the upscaled first-pass latent
    assert change[painted].min() > 1e-3  # the masked part was sampled again


def test_latent_upscale_hands_the_mask_on_unresized():
    mask = torch.rand(2, 48, 64)
    latent = Latent(torch.randn(2, 16, 6, 8), 64, 48, noise_mask=mask)
    for width, height, crop in ((128, 96, "disabled"), (0, 80, "center"), (0, 0, "disabled")):
        out = LatentUpscale().run(None, latent, "nearest-exact", width, height, crop)
        assert out.noise_mask is mask  # ComfyUI keeps the mask as it is; the sampler fits it to the latent


@pytest.mark.parametrize("scale_by,method", [(1.5, "bilinear"), (1.3, "nearest-exact"), (2.0, "bicubic"), (0.5, "area")])
def test_latent_upscale_by_is_comfyuis(scale_by, method):
    """ComfyUI's LatentUpscaleBy restated: each latent side times scale_by, rounded, torch's interpolate; the
    mask and batch positions handed on."""
    x, mask = torch.randn(2, 16, 6, 8), torch.rand(1, 48, 64)
    latent = Latent(x, 64, 48, noise_mask=mask, batch_index=(4, 2))
    out = LatentUpscaleBy().run(None, latent, method, scale_by)
    size = (round(6 * scale_by), round(8 * scale_by))
    assert torch.equal(out.samples, F.interpolate(x, size=size, mode=method))
    assert (out.width, out.height) == (size[1] * 8, size[0] * 8)
    assert out.noise_mask is mask and out.batch_index == (4, 2)


def test_latent_upscale_by_refuses_a_scale_that_leaves_nothing():
    from flux_core.graph.node import NodeError

    with pytest.raises(NodeError) as e:
        LatentUpscaleBy().run(None, Latent(torch.zeros(1, 16, 2, 2), 16, 16), "bilinear", 0.1)
    assert e.value.input == "scale_by" and "16x16" in str(e.value)
