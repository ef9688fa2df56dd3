"""LatentUpscale keeps the latent's noise mask, as ComfyUI's does (it copies the latent dict and resizes only
`samples`; the sampler fits the mask to the latent it gets). So an inpaint graph that upscales between the
mask and the sampler still repaints only the masked part: the rest comes out as the upscaled latent."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from flux_core import load_workflow
from flux_core.graph.context import Environment
from nodes.flux.image_ops import LatentUpscale
from nodes.flux.values import Latent

from .conftest import fixture


def upscaled_inpaint(data: dict) -> dict:
    """First pass as in the fixture (64x48), then SetLatentNoiseMask (left half painted) → LatentUpscale to
    128x96 → KSampler at denoise 0.7."""
    data["43"] = {"class_type": "LoadImageMask", "inputs": {"image": "left_half.png", "channel": "red"}}
    data["44"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["13", 0], "mask": ["43", 0]}}
    data["40"] = {"class_type": "LatentUpscale",
                  "inputs": {"samples": ["44", 0], "upscale_method": "bilinear", "width": 128, "height": 96,
                             "crop": "disabled"}}
    data["41"] = {"class_type": "KSampler",
                  "inputs": {"model": ["12", 0], "positive": ["6", 0], "negative": ["6", 0], "latent_image": ["40", 0],
                             "seed": 5, "steps": 2, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                             "denoise": 0.7}}
    data["8"]["inputs"]["samples"] = ["41", 0]
    return data


def test_an_upscaled_inpaint_latent_repaints_only_the_mask(comfy_models, executor):
    plane = np.zeros((48, 64, 3), np.uint8)
    plane[:, :32, 0] = 255  # red: paint the left half
    executor.env.input_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(plane).save(executor.env.input_dir / "left_half.png")
    workflow = load_workflow(upscaled_inpaint(fixture("api_schnell_split.json")), env=Environment(
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
