"""ComfyUI-style FLUX.1 Fill (inpaint, outpaint) and Kontext API documents import and run end to end on the
tiny files under the real names, with the mask, inpainting and Kontext classes mapped to fluxwire's nodes."""
import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.inpaint import latent_mask

from .conftest import fixture


def load(name, models):
    return load_workflow(fixture(name), env=Environment(models_dir=models))


def test_fill_inpaint_document_runs_and_keeps_the_unmasked_latent(comfy_models, executor):
    workflow = load("api_fill_inpaint.json", comfy_models)
    types = {nid: n.type for nid, n in workflow.nodes.items()}
    assert (types["4"], types["9"], types["10"], types["11"]) == (
        "DifferentialDiffusion", "GrowMask", "ThresholdMask", "InpaintConditioning")
    result = executor.run(workflow)
    assert result.status == "success" and len(result.ui["14"]["images"]) == 1
    original = result.outputs["11"]["latent"]
    out = result.outputs["12"]["latent"].samples
    m = latent_mask(original.noise_mask, 1, 16, *out.shape[-2:])
    assert 0.3 < m.mean() < 0.9  # everything but the grown top-left quarter
    torch.testing.assert_close(out * (m == 0), original.samples * (m == 0), rtol=0, atol=1e-5)
    assert ((out - original.samples).abs() * (m == 1)).amax() > 0.1
    assert result.outputs["11"]["negative"].fill_latent is not None  # the negative carries the picture too


def test_fill_outpaint_document_runs_on_the_padded_picture(comfy_models, executor):
    workflow = load("api_fill_outpaint.json", comfy_models)
    assert workflow.nodes["9"].type == "PadForOutpaint" and workflow.nodes["10"].type == "FeatherMask"
    result = executor.run(workflow)
    image = result.outputs["13"]["image"]
    assert image.shape == (1, 64 + 16, 64 + 32, 3)
    assert result.outputs["11"]["latent"].noise_mask is None  # noise_mask false: Fill alone repaints
    mask = result.outputs["11"]["conditioning"].fill_mask
    assert mask[0, :, 1:32].min() == 1 and mask[0, :56, 48:90].max() == 0 and mask[0, 64:, 40:90].min() == 1
    assert mask[0, :, 0].max() == 0  # ComfyUI's FeatherMask right ramp also scales column 0 (by 1/4): kept


def test_kontext_document_runs_with_references_and_a_noise_mask(comfy_models, executor):
    workflow = load("api_kontext.json", comfy_models)
    types = {nid: n.type for nid, n in workflow.nodes.items()}
    assert [types[k] for k in ("5", "6", "7", "8", "9", "13", "14", "17")] == [
        "LoadMask", "InvertMask", "ImageStitch", "ImageScaleToMaxDimension", "KontextImageScale",
        "ReferenceLatent", "KontextReferenceMethod", "SetLatentNoiseMask"]
    assert workflow.nodes["14"].widgets["method"] == "uxo"
    result = executor.run(workflow)
    assert result.status == "success"
    assert result.outputs["9"]["image"].shape == (1, 1024, 1024, 3)  # a square picture: Kontext's 1024x1024
    assert result.outputs["8"]["image"].shape == (1, 48, 96, 3)  # two 64 px pictures stitched, longest side 96
    cond = result.outputs["15"]["conditioning"]
    assert len(cond.references) == 1 and cond.references[0].shape == (1, 16, 6, 12)
    keep = result.outputs["6"]["mask"]  # inverted alpha: the top-left quarter is painted
    assert keep[0, :32, :32].min() == 1 and keep[0, 40:, 40:].max() == 0
    out = result.outputs["18"]["latent"].samples
    assert out.shape == (1, 16, 8, 8)
    m = latent_mask(keep, 1, 16, 8, 8)
    assert (out * (m == 0)).abs().max() < 1e-5  # the empty latent is kept outside the painted quarter
