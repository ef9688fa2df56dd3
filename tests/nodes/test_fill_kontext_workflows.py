"""The shipped FLUX.1 Fill and Kontext workflows validate and run on tiny random files under the real names;
what the user notices: the unmasked part is kept, the masked part repainted, Kontext's reference changes the
picture, the loaders tell Fill and Kontext apart, and wrong combinations name the input."""
import json
from pathlib import Path

import pytest
import torch

from flux_core import Executor, RunFailed, load_workflow
from flux_core.inpaint import latent_mask

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
NAMES = ["flux-fill-inpaint.json", "flux-fill-outpaint.json", "flux-kontext-edit.json"]


@pytest.fixture
def executor(models_dir, tmp_path):
    return Executor(models_dir=models_dir, output_dir=tmp_path / "out", input_dir=tmp_path / "in")


def small_kontext(doc):
    """The Kontext workflow with the training-size scaling swapped for a 128 px one (the tiny CPU run)."""
    for node in doc["nodes"]:
        if node["type"] == "KontextImageScale":
            node["type"] = "ImageScaleToMaxDimension"
            node["widgets"] = {"upscale_method": "area", "largest_size": 128}
    return doc


@pytest.mark.parametrize("name", NAMES)
def test_shipped_fill_and_kontext_workflows_validate(models_dir, name):
    load_workflow(WORKFLOWS / name, env=Executor(models_dir=models_dir).env)


def test_fill_inpaint_keeps_the_unmasked_latent_and_repaints_the_mask(executor):
    result = executor.run(WORKFLOWS / "flux-fill-inpaint.json", overrides={"scheduler.steps": 2})
    assert len(result.ui["save"]["images"]) == 1
    original = result.outputs["inpaint"]["latent"]
    out = result.outputs["sampler"]["latent"].samples
    assert original.noise_mask is not None and out.shape == original.samples.shape
    m = latent_mask(original.noise_mask, 1, 16, *out.shape[-2:])
    assert 0.02 < m.mean() < 0.5
    torch.testing.assert_close(out * (m == 0), original.samples * (m == 0), rtol=0, atol=1e-5)
    assert ((out - original.samples).abs() * (m == 1)).amax() > 0.1


def test_fill_outpaint_paints_the_borders(executor):
    result = executor.run(WORKFLOWS / "flux-fill-outpaint.json",
                          overrides={"scheduler.steps": 2, "pad.left": 64, "pad.right": 32})
    image = result.outputs["decode"]["image"]
    assert image.shape == (1, 512, 512 + 96, 3)
    cond = result.outputs["inpaint"]["conditioning"]
    assert cond.fill_mask[0, :, :64].min() == 1 and cond.fill_mask[0, :, 200:300].max() == 0
    assert image[0, :, :64].std() > 0.01  # not the flat grey the pad put there


def test_kontext_edit_uses_the_reference(executor):
    doc = small_kontext(json.loads((WORKFLOWS / "flux-kontext-edit.json").read_text()))
    with_ref = executor.run(doc, overrides={"scheduler.steps": 2}).outputs["sampler"]["latent"].samples
    for link in doc["links"]:  # bypass ReferenceImage: the prompt goes straight to the guidance
        if link["to"] == "guidance":
            link["from"], link["output"] = "prompt", "conditioning"
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "reference"]
    doc["links"] = [ln for ln in doc["links"] if "reference" not in (ln["from"], ln["to"])]
    without = executor.run(doc, overrides={"scheduler.steps": 2}).outputs["sampler"]["latent"].samples
    assert with_ref.shape == without.shape == (1, 16, 16, 16)
    assert (with_ref - without).abs().max() > 1e-3


def loaded(executor, name):
    doc = {"format": "fluxwire.workflow", "version": 1, "nodes": [
        {"id": "m", "type": "LoadDiffusionModel", "widgets": {"model_name": name, "weight_dtype": "default"}},
        {"id": "show", "type": "ShowValue", "widgets": {}}],
        "links": [{"from": "m", "output": "model", "to": "show", "input": "value"}]}
    return executor.run(doc).outputs["m"]["model"]


def test_loaders_tell_fill_and_kontext_apart(executor):
    fill, kontext, dev = (loaded(executor, n) for n in
                          ("flux1-fill-dev.safetensors", "flux1-kontext-dev.safetensors", "flux1-dev.safetensors"))
    assert fill.is_fill and fill.params.in_channels == 384 and fill.latent_channels == 16 and not fill.kontext
    assert kontext.kontext and not kontext.is_fill
    assert not dev.kontext and not dev.is_fill


def test_default_guidance_is_2_5_for_kontext_and_30_for_fill(executor):
    from nodes.flux.sampling import DEFAULT_KONTEXT_GUIDANCE, _Run
    from nodes.flux.values import Conditioning, Latent

    kontext = loaded(executor, "flux1-kontext-dev.safetensors")
    cond = Conditioning(txt=torch.zeros(1, 4, 32), vec=torch.zeros(1, 32))
    run = _Run(kontext, cond, Latent(torch.zeros(1, 16, 4, 4), 32, 32), None)
    assert run.guidance == DEFAULT_KONTEXT_GUIDANCE == 2.5
    assert _Run(loaded(executor, "flux1-dev.safetensors"), cond, Latent(torch.zeros(1, 16, 4, 4), 32, 32),
                None).guidance == 3.5
    fill_cond = Conditioning(txt=torch.zeros(1, 4, 32), vec=torch.zeros(1, 32), fill_latent=torch.zeros(1, 16, 4, 4),
                             fill_mask=torch.zeros(1, 32, 32))
    assert _Run(loaded(executor, "flux1-fill-dev.safetensors"), fill_cond, Latent(torch.zeros(1, 16, 4, 4), 32, 32),
                None).guidance == 30.0


def test_fill_model_without_inpaint_conditioning_names_the_input(executor):
    doc = json.loads((WORKFLOWS / "flux-fill-inpaint.json").read_text())
    for link in doc["links"]:
        if link["to"] == "sampler" and link["input"] == "conditioning":
            link["from"], link["output"] = "guidance", "conditioning"
    with pytest.raises(RunFailed) as e:
        executor.run(doc, overrides={"scheduler.steps": 1})
    assert (e.value.node_id, e.value.input) == ("sampler", "conditioning") and "InpaintConditioning" in e.value.message
