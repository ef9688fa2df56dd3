import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.nodes.tiny_models import AE_CONFIG, CLIP_CONFIG, T5_CONFIG, _clip_keys, _save, _t5_keys, autoencoder, clip, \
    flux, t5, write_models_folder

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def write_comfy_models(root: Path) -> Path:
    """A ComfyUI models/ folder: the tiny files under ComfyUI's names, unet/ and clip/ aliases, a dev
    all-in-one checkpoint (fp8 transformer, ComfyUI prefixes) and a file in a subfolder."""
    root = write_models_folder(root)
    dev, ae, t5m, clipm = flux(True, 10), autoencoder(), t5(), clip()
    ckpt = {}
    for k, v in dev.state_dict().items():
        is_linear_weight = k.endswith(".weight") and v.ndim == 2
        ckpt["model.diffusion_model." + k] = v.to(torch.float8_e4m3fn) if is_linear_weight else v
    ckpt.update({"vae." + k: v for k, v in ae.state_dict().items()})
    ckpt.update({"text_encoders.t5xxl.transformer." + k: v for k, v in _t5_keys(t5m).items()})
    ckpt.update({"text_encoders.clip_l.transformer." + k: v for k, v in _clip_keys(clipm).items()})
    _save(root / "checkpoints" / "flux1-dev-fp8.safetensors", ckpt,
          {"transformer": {"axes_dim": [4, 6, 6]}, "vae": AE_CONFIG, "clip": CLIP_CONFIG, "t5": T5_CONFIG})
    (root / "unet" / "flux").mkdir(parents=True)
    shutil.copy(root / "diffusion_models" / "flux1-schnell.safetensors", root / "unet" / "flux" / "schnell.safetensors")
    (root / "clip").mkdir()
    shutil.move(root / "text_encoders" / "clip_l.safetensors", root / "clip" / "clip_l.safetensors")
    return root


@pytest.fixture(scope="session")
def comfy_models(tmp_path_factory):
    return write_comfy_models(tmp_path_factory.mktemp("comfy") / "models")


@pytest.fixture
def executor(comfy_models, tmp_path):
    from flux_core import Executor

    return Executor(models_dir=comfy_models, output_dir=tmp_path / "out", input_dir=tmp_path / "in")
