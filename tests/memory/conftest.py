import pytest
import torch

from ..nodes.tiny_models import VEC_WIDTH, TXT_WIDTH, _random, _save, write_models_folder


def wide_flux(guidance: bool, seed: int):
    """A FLUX transformer larger than the tiny text encoders' embeddings, so a budget can hold every other
    model whole and still force the transformer into partial residency or streaming."""
    from flux_core.models import Flux, FluxParams

    params = FluxParams(in_channels=64, out_channels=64, vec_in_dim=VEC_WIDTH, context_in_dim=TXT_WIDTH,
                        hidden_size=128, mlp_ratio=4.0, num_heads=4, depth=2, depth_single_blocks=4,
                        axes_dim=(4, 14, 14), theta=10000, qkv_bias=True, guidance_embed=guidance)
    return _random(Flux(params), seed)


@pytest.fixture(scope="session")
def memory_models(tmp_path_factory):
    """The tiny models folder with wider (2 double + 4 single blocks, width 128) FLUX transformers."""
    root = write_models_folder(tmp_path_factory.mktemp("memory_models"))
    for name, guidance, seed in (("flux1-schnell.safetensors", False, 0), ("flux1-dev.safetensors", True, 10)):
        _save(root / "diffusion_models" / name, wide_flux(guidance, seed).state_dict(), {"axes_dim": [4, 14, 14]})
    return root


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """Tiny random FLUX files under the real names (as in tests/nodes)."""
    return write_models_folder(tmp_path_factory.mktemp("models"))


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield
