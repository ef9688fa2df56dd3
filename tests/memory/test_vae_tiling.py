"""Tiled autoencoder: no visible seams (PSNR against the whole decode), bounded tile size, nodes."""
import math

import pytest
import torch

from flux_core.loading import load_vae
from flux_core.model_folders import SHIPPED_MODELS
from flux_core.models.vae_tiling import decode_tiled, encode_tiled, tile_starts

from ..nodes.test_flux_nodes import shipped


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio of two pictures in [-1, 1] (peak-to-peak 2)."""
    return 10 * math.log10(4 / float(((a.clamp(-1, 1) - b.clamp(-1, 1)) ** 2).mean()))


def natural_picture(size=384) -> torch.Tensor:
    """Smooth colour gradients with three hard-edged discs: [1, 3, size, size] in [-1, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = torch.stack([0.5 + 0.4 * torch.sin(6 * xx + 2 * yy), 0.5 + 0.4 * torch.cos(5 * yy - 3 * xx),
                       0.3 + 0.5 * xx * yy])
    for cx, cy, r, colour in [(0.3, 0.3, 0.12, (1, 0.2, 0.1)), (0.7, 0.6, 0.18, (0.1, 0.3, 0.9)),
                              (0.5, 0.85, 0.1, (0.9, 0.9, 0.1))]:
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
        for k in range(3):
            img[k][disc] = colour[k]
    return (img * 2 - 1)[None]


@pytest.fixture(scope="module")
def mini_ae():
    return load_vae(SHIPPED_MODELS / "vae" / "flux-mini-ae.safetensors", device="cpu")


def test_tiles_cover_the_picture_with_the_overlap():
    assert tile_starts(48, 16, 4) == [0, 12, 24, 32]
    assert tile_starts(16, 64, 8) == [0]


@pytest.mark.slow
def test_tiled_decode_and_encode_match_the_whole_ones(mini_ae):
    x = natural_picture()
    with torch.inference_mode():
        z = mini_ae.encode(x)
        whole = mini_ae.decode(z)
    tiled = decode_tiled(mini_ae, z, tile=128, overlap=32)  # 3x3 tiles of a 384 px picture
    assert tiled.shape == whole.shape
    assert psnr(tiled, whole) >= 40
    z_tiled = encode_tiled(mini_ae, x, tile=128, overlap=32)
    assert z_tiled.shape == z.shape
    with torch.inference_mode():
        assert psnr(mini_ae.decode(z_tiled), whole) >= 40


@pytest.mark.slow
def test_naive_tiles_would_show_the_difference_this_fixes(mini_ae):
    """Decoding each tile on its own (its own GroupNorm statistics and attention) is far below 40 dB."""
    x = natural_picture()
    with torch.inference_mode():
        z = mini_ae.encode(x)
        whole = mini_ae.decode(z)
        naive = torch.cat([torch.cat([mini_ae.decode(z[:, :, i:i + 16, j:j + 16]) for j in (0, 16, 32)], dim=3)
                           for i in (0, 16, 32)], dim=2)
    assert psnr(naive, whole) < 30


def test_a_large_picture_decodes_in_tiles_of_bounded_size():
    """1024² here (2048² in bench/bench_vae_tiling.py, with peak memory): one tile at a time at full size."""
    from ..nodes.tiny_models import autoencoder

    ae = autoencoder()
    z = torch.randn(1, 16, 128, 128)
    largest = []
    hook = ae.decoder.conv_out.register_forward_hook(lambda m, i, o: largest.append(o.shape[-1] * o.shape[-2]))
    try:
        image = decode_tiled(ae, z, tile=256, overlap=32)
    finally:
        hook.remove()
    assert image.shape == (1, 3, 1024, 1024) and torch.isfinite(image).all()
    assert max(largest) <= 256 * 256 and len(largest) == len(tile_starts(128, 32, 4)) ** 2


def _with_tiled_decode(doc, tile, overlap):
    node = next(n for n in doc["nodes"] if n["type"] == "VAEDecode")
    node["type"] = "VAEDecodeTiled"
    node["widgets"] = {"tile_size": tile, "overlap": overlap}
    return doc


@pytest.mark.slow
def test_vae_decode_tiled_node_and_automatic_tiling(models_dir, tmp_path):
    from flux_core import Executor
    from flux_core.memory import MemoryManager, SimulatedDevice

    executor = Executor(models_dir=models_dir, output_dir=tmp_path / "a")
    whole = executor.run(shipped("flux-schnell.json", **{"latent.width": 256, "latent.height": 256}))
    tiled = executor.run(_with_tiled_decode(shipped("flux-schnell.json", **{"latent.width": 256,
                                                                            "latent.height": 256}), 128, 64))
    assert sorted(tiled.executed) == ["decode", "save"]  # the sampler's latent came from the cache
    a, b = whole.outputs["decode"]["image"], tiled.outputs["decode"]["image"]
    assert a.shape == b.shape and not torch.equal(a, b)
    assert psnr(a * 2 - 1, b * 2 - 1) >= 40
    manager = MemoryManager(SimulatedDevice(1 << 40, activations=4 << 20))  # room for 4 MB of activations
    auto = Executor(models_dir=models_dir, output_dir=tmp_path / "b", memory=manager).run(
        shipped("flux-schnell.json", **{"latent.width": 256, "latent.height": 256}))
    assert [e for e in manager.events if e["event"] == "tiled decode"]
    assert psnr(auto.outputs["decode"]["image"] * 2 - 1, a * 2 - 1) >= 40
