"""LatentFromBatch and batch_index: a picture picked out of a batch keeps the noise it had in the batch,
drawn as ComfyUI's prepare_noise draws it (checked against a numpy re-statement of it), so it comes out the
same as in the batch run."""
import copy

import numpy as np
import pytest
import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.sampling import seeded_noise
from nodes.flux.batch import LatentFromBatch, indexed_noise
from nodes.flux.image_ops import RepeatLatentBatch
from nodes.flux.values import Latent, Noise

from .conftest import fixture


def prepare_noise_reference(shape, seed, noise_inds):
    """ComfyUI's prepare_noise with noise_inds, restated: np.unique + inverse, one draw per position."""
    generator = torch.manual_seed(seed)
    unique, inverse = np.unique(noise_inds, return_inverse=True)
    noises = []
    for i in range(unique[-1] + 1):
        noise = torch.randn([1] + list(shape)[1:], generator=generator)
        if i in unique:
            noises.append(noise)
    return torch.cat([noises[i] for i in inverse], dim=0)


@pytest.mark.parametrize("shape,index", [((3, 3, 5, 7), (2, 0, 2)), ((2, 16, 6, 8), (4, 1)), ((1, 16, 4, 4), (0,))])
def test_indexed_noise_is_comfyuis(shape, index):
    state = torch.random.get_rng_state()
    try:
        expected = prepare_noise_reference(shape, 1234, list(index))
    finally:
        torch.random.set_rng_state(state)
    assert torch.equal(indexed_noise(shape, 1234, index), expected)


def test_a_picked_latent_gets_its_noise_from_the_batch():
    batch = Latent(torch.zeros(4, 16, 6, 8), 64, 48)
    picked = LatentFromBatch().run(None, batch, 2, 1)
    assert picked.batch_index == (2,) and picked.batch == 1
    assert torch.equal(Noise(77).for_latent(picked), seeded_noise((4, 16, 6, 8), 77)[2:3])


def test_clamping_masks_and_repeats_follow_comfyui():
    mask = torch.arange(2 * 48 * 64, dtype=torch.float32).reshape(2, 48, 64)
    batch = Latent(torch.randn(4, 16, 6, 8), 64, 48, noise_mask=mask)
    two = LatentFromBatch().run(None, batch, 1, 2)
    assert two.batch_index == (1, 2) and torch.equal(two.samples, batch.samples[1:3])
    assert torch.equal(two.noise_mask, torch.cat([mask, mask])[1:3])  # a shorter mask batch repeats first
    clamped = LatentFromBatch().run(None, two, 5, 9)  # past the end: the last one
    assert clamped.batch_index == (2,) and torch.equal(clamped.samples, batch.samples[2:3])
    repeated = RepeatLatentBatch().run(None, two, 3)
    assert repeated.batch_index == (1, 2, 3, 4, 5, 6)
    assert RepeatLatentBatch().run(None, batch, 2).batch_index is None


def test_picture_from_batch_is_the_same_as_in_the_batch(comfy_models, executor):
    env = Environment(models_dir=comfy_models)
    data = fixture("api_schnell_split.json")
    data["27"]["inputs"]["batch_size"] = 3
    whole = executor.run(load_workflow(data, env=env))
    assert whole.status == "success"
    pictures = whole.outputs["8"]["image"]
    data["40"] = {"class_type": "LatentFromBatch", "inputs": {"samples": ["27", 0], "batch_index": 1, "length": 1}}
    data["13"]["inputs"]["latent_image"] = ["40", 0]
    picked = executor.run(load_workflow(data, env=env))
    assert picked.status == "success"
    one = picked.outputs["8"]["image"]
    assert one.shape[0] == 1
    assert torch.allclose(one[0], pictures[1], atol=1e-4)
    assert not torch.allclose(one[0], pictures[0], atol=1e-2)  # not simply the first picture's noise


def second_pass(data: dict) -> dict:
    """After the first sampler: LatentUpscale to 96x64, then a KSampler at denoise 0.5 with its own seed
    (fresh noise for each picture, drawn for the latent's batch positions), decoded."""
    data["40"] = {"class_type": "LatentUpscale",
                  "inputs": {"samples": ["13", 0], "upscale_method": "bilinear", "width": 96, "height": 64,
                             "crop": "disabled"}}
    data["41"] = {"class_type": "KSampler",
                  "inputs": {"model": ["12", 0], "positive": ["6", 0], "negative": ["6", 0], "latent_image": ["40", 0],
                             "seed": 5, "steps": 2, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                             "denoise": 0.5}}
    data["8"]["inputs"]["samples"] = ["41", 0]
    return data


def with_fluxwire_sampler(data: dict) -> dict:
    """The imported document with the first pass done by fluxwire's own Sampler (same noise, schedule,
    model and prompt) instead of SamplerCustomAdvanced: its output must hand the batch positions on."""
    from flux_core.interop.comfyui import comfyui_to_document

    doc = comfyui_to_document(data)
    latent = next(l["from"] for l in doc["links"] if l["to"] == "13" and l["input"] == "latent_image")
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] not in ("13", "16", "22")] + [
        {"id": "13", "type": "Sampler", "widgets": {}}]
    doc["links"] = [dict(l, output="latent") if l["from"] == "13" else l for l in doc["links"]
                    if l["to"] not in ("13", "22")] + [
        {"from": "12", "output": "model", "to": "13", "input": "model"},
        {"from": "6", "output": "conditioning", "to": "13", "input": "conditioning"},
        {"from": "25", "output": "noise", "to": "13", "input": "noise"},
        {"from": "17", "output": "sigmas", "to": "13", "input": "sigmas"},
        {"from": latent, "output": "latent", "to": "13", "input": "latent"}]
    return doc


@pytest.mark.parametrize("first_sampler", ["SamplerCustomAdvanced", "Sampler"])
def test_batch_positions_survive_a_sampler_and_an_upscale(comfy_models, executor, first_sampler):
    """ComfyUI's samplers and LatentUpscale copy the latent dict, batch_index included, so the second pass's
    noise for a picked picture is again the noise of its place in the batch: picture i alone equals picture i
    of the batch after the extra stage too (also with fluxwire's own Sampler doing the first pass)."""
    env = Environment(models_dir=comfy_models)
    data = second_pass(fixture("api_schnell_split.json"))
    data["27"]["inputs"]["batch_size"] = 3
    document = (lambda d: d) if first_sampler == "SamplerCustomAdvanced" else with_fluxwire_sampler
    whole = executor.run(load_workflow(document(copy.deepcopy(data)), env=env))
    assert whole.status == "success"
    pictures = whole.outputs["8"]["image"]
    assert pictures.shape[1:3] == (64, 96)
    data["42"] = {"class_type": "LatentFromBatch", "inputs": {"samples": ["27", 0], "batch_index": 2, "length": 1}}
    data["13"]["inputs"]["latent_image"] = ["42", 0]
    picked = executor.run(load_workflow(document(data), env=env))
    assert picked.status == "success"
    one = picked.outputs["8"]["image"]
    assert one.shape[0] == 1
    assert torch.allclose(one[0], pictures[2], atol=1e-4)
    assert not torch.allclose(one[0], pictures[0], atol=1e-2)  # the second pass did not start over at position 0


def test_samplers_and_upscale_hand_the_batch_positions_on():
    from nodes.flux.image_ops import LatentUpscale

    picked = Latent(torch.randn(2, 16, 6, 8), 64, 48, batch_index=(3, 1))
    assert LatentUpscale().run(None, picked, "nearest-exact", 128, 96, "disabled").batch_index == (3, 1)
    assert LatentUpscale().run(None, picked, "nearest-exact", 0, 0, "disabled").batch_index == (3, 1)
