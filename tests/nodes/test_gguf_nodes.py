"""GGUF files in the usual folders: listed by the loader nodes and run in the shipped dev workflow."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from flux_core import Executor
from flux_core.model_folders import list_names

from .test_flux_nodes import shipped

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loading"))
from gguf_fixtures import llama_t5_name, write_gguf  # noqa: E402


@pytest.fixture(scope="module")
def gguf_models(models_dir, tmp_path_factory):
    """The tiny models folder plus the dev transformer and T5 as Q8_0 .gguf files (ComfyUI-GGUF layout)."""
    root = tmp_path_factory.mktemp("gguf") / "models"
    shutil.copytree(models_dir, root)
    (root / "unet").mkdir()
    (root / "clip").mkdir()
    dev = load_file(str(root / "diffusion_models" / "flux1-dev.safetensors"))
    write_gguf(root / "unet" / "flux1-dev-Q8_0.gguf", dev, "Q8_0", "flux", config={"axes_dim": [4, 6, 6]})
    t5 = load_file(str(root / "text_encoders" / "t5xxl_fp16.safetensors"))
    write_gguf(root / "clip" / "t5-v1_1-xxl-encoder-Q8_0.gguf", {llama_t5_name(k): v for k, v in t5.items()},
               "Q8_0", "t5encoder", config={"relative_attention_num_buckets": 32})
    return root


def _image(result):
    from PIL import Image

    return np.asarray(Image.open(result.ui["save"]["images"][0]), dtype=np.float64)


def test_gguf_files_are_listed_and_run_the_dev_workflow(gguf_models, tmp_path):
    assert "flux1-dev-Q8_0.gguf" in list_names("diffusion_models", gguf_models)
    assert "t5-v1_1-xxl-encoder-Q8_0.gguf" in list_names("text_encoders", gguf_models)
    executor = Executor(models_dir=gguf_models, output_dir=tmp_path / "out")
    plain = _image(executor.run(shipped("flux-dev.json")))
    result = executor.run(shipped("flux-dev.json", **{"model.model_name": "flux1-dev-Q8_0.gguf",
                                                      "text_encoders.t5_name": "t5-v1_1-xxl-encoder-Q8_0.gguf"}))
    quantized = _image(result)
    mse = float(((plain - quantized) ** 2).mean())
    psnr = 10 * np.log10(255**2 / max(mse, 1e-12))
    assert quantized.std() > 1  # a picture, not a flat field
    assert mse > 0  # the quantized weights were used
    assert psnr > 25, f"Q8_0 workflow differs from the safetensors one: {psnr:.1f} dB"


def test_a_gguf_transformer_streams_compact_and_computes_the_same_bits(gguf_models, tmp_path):
    """Quantized blocks move to the (simulated) device as they are, and decode there per layer."""
    import torch

    from flux_core.loading import load_diffusion_model
    from flux_core.loading.gguf_linear import QuantLinear
    from flux_core.memory import MemoryBudgetError, MemoryManager, SimulatedDevice, module_plan

    model = load_diffusion_model(gguf_models / "unet" / "flux1-dev-Q8_0.gguf", device="cpu")
    assert any(isinstance(m, QuantLinear) for m in model.modules())
    g = torch.Generator().manual_seed(0)
    inputs = dict(img=torch.randn(1, 16, 64, generator=g), img_ids=torch.zeros(1, 16, 3),
                  txt=torch.randn(1, 5, 32, generator=g), txt_ids=torch.zeros(1, 5, 3),
                  timesteps=torch.tensor([0.5]), y=torch.randn(1, 32, generator=g), guidance=torch.tensor([3.5]))
    with torch.inference_mode():
        reference = model(**inputs)
    total = module_plan(model, None).resident_bytes
    def policy(b):
        try:
            return module_plan(model, b).policy
        except MemoryBudgetError:
            return None

    budget = next(b for b in range(total // 4, total, 256) if policy(b) == "streaming")
    manager = MemoryManager(SimulatedDevice(budget))
    manager.adopt(model, "gguf")
    with manager.borrow(model), torch.inference_mode():
        out = model(**inputs)
    assert torch.equal(out, reference)
    assert [e["policy"] for e in manager.events if e["event"] == "plan"] == ["streaming"]
    assert manager.bytes_moved >= total  # every block was copied in, compact
    assert manager.peak_device_bytes <= budget < total
