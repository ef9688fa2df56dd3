"""LatentUpscale / LatentUpscaleBy with ComfyUI's ``bislerp``: against the rule written here in float64 NumPy
(bilinear positions with half-pixel centres clamped at the edges; per cell the channel vectors slerped, their
lengths blended straight; same-direction pairs keep the first, opposite ones blend straight, zero vectors stay
zero), on ComfyUI's raw latent (fluxwire's model-space latent / 0.3611 + 0.1159), and through an imported
ComfyUI document."""
import math

import numpy as np
import pytest
import torch

from nodes.flux.image_ops import LatentUpscale, LatentUpscaleBy
from nodes.flux.values import Latent


def positions(old, new):
    """Source cells and fraction per output cell: bilinear with half-pixel centres, clamped at the edges."""
    out = []
    for j in range(new):
        src = max((j + 0.5) * old / new - 0.5, 0.0)
        first = min(int(math.floor(src)), old - 1)
        out.append((first, min(first + 1, old - 1), src - first))
    return out


def slerp(a, b, t):
    la, lb = np.linalg.norm(a), np.linalg.norm(b)
    da = a / la if la else np.zeros_like(a)
    db = b / lb if lb else np.zeros_like(b)
    cos = float(da @ db)
    if cos > 1 - 1e-5:
        return a
    if cos < 1e-5 - 1:
        return (1 - t) * a + t * b
    angle = math.acos(cos)
    return (math.sin((1 - t) * angle) * da + math.sin(t * angle) * db) / math.sin(angle) * ((1 - t) * la + t * lb)


def ref_bislerp(x, width, height):
    """x [N, C, H, W] float64 -> [N, C, height, width]: the width pass, then the height pass."""
    n, c, h, w = x.shape
    mid = np.zeros((n, c, h, width))
    for j, (a, b, t) in enumerate(positions(w, width)):
        for i in range(n):
            for y in range(h):
                mid[i, :, y, j] = slerp(x[i, :, y, a], x[i, :, y, b], t)
    out = np.zeros((n, c, height, width))
    for k, (a, b, t) in enumerate(positions(h, height)):
        for i in range(n):
            for col in range(width):
                out[i, :, k, col] = slerp(mid[i, :, a, col], mid[i, :, b, col], t)
    return out


def raw(latent):
    """ComfyUI's raw latent from fluxwire's (the model's space): FLUX's latent format undone."""
    return latent / 0.3611 + 0.1159


def model_space(raw_latent):
    return (raw_latent - 0.1159) * 0.3611


def test_bislerp_matches_the_rule_on_the_raw_latent():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 5, 7)
    x[0, :, 1, 1] = model_space(torch.zeros(16))  # a zero raw vector stays zero
    x[1, :, 2, 3] = x[1, :, 2, 4]  # neighbours pointing the same way
    x[1, :, 3, 5] = model_space(-raw(x[1, :, 3, 6]))  # and opposite ways
    latent = Latent(x, 56, 40, batch_index=(3, 1))
    for width, height in ((112, 80), (80, 64), (64, 64), (72, 96)):
        out = LatentUpscale().run(None, latent, "bislerp", width, height, "disabled")
        want = model_space(ref_bislerp(raw(x).double().numpy(), width // 8, height // 8))
        assert out.samples.shape == (2, 16, height // 8, width // 8) and out.batch_index == (3, 1)
        np.testing.assert_allclose(out.samples.double().numpy(), want, atol=2e-5)
    # the same resize on the model-space latent itself would differ: bislerp is not affine-invariant
    wrong = ref_bislerp(x.double().numpy(), 14, 10)
    assert np.abs(LatentUpscale().run(None, latent, "bislerp", 112, 80, "disabled").samples.numpy() - wrong).max() > 1e-3
    # and it is not bilinear
    bilinear = LatentUpscale().run(None, latent, "bilinear", 112, 80, "disabled").samples
    assert (LatentUpscale().run(None, latent, "bislerp", 112, 80, "disabled").samples - bilinear).abs().max() > 1e-3


@pytest.mark.parametrize("scale_by", [1.5, 0.5])
def test_latent_upscale_by_with_bislerp(scale_by):
    torch.manual_seed(1)
    x = torch.randn(1, 16, 6, 8)
    out = LatentUpscaleBy().run(None, Latent(x, 64, 48), "bislerp", scale_by)
    h, w = round(6 * scale_by), round(8 * scale_by)
    np.testing.assert_allclose(out.samples.double().numpy(), model_space(ref_bislerp(raw(x).double().numpy(), w, h)),
                               atol=2e-5)
    assert (out.width, out.height) == (w * 8, h * 8)


def test_an_imported_latent_upscale_with_bislerp_runs(comfy_models, executor):
    """ComfyUI's LatentUpscaleBy(bislerp) in a hires-fix style graph imports and gives the rule's latent."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment

    from .conftest import fixture

    data = fixture("api_schnell_split.json")
    data["40"] = {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["13", 0], "upscale_method": "bislerp",
                                                              "scale_by": 1.5}}
    workflow = load_workflow(data, env=Environment(models_dir=comfy_models))
    result = executor.run(workflow, outputs=["13", "40"])
    assert result.status == "success", result
    before, after = result.outputs["13"]["output"].samples, result.outputs["40"]["latent"].samples
    h, w = round(before.shape[-2] * 1.5), round(before.shape[-1] * 1.5)
    np.testing.assert_allclose(after.double().numpy(), model_space(ref_bislerp(raw(before).double().numpy(), w, h)),
                               atol=2e-5)
