"""Fixtures for the loading tests: tiny real models written as real files into a temp folder."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network from these tests
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# an empty Hugging Face cache (read by huggingface_hub at import time), so a missing tokenizer is really missing
import tempfile  # noqa: E402

_HF_HOME = tempfile.mkdtemp(prefix="fluxwire-test-hf-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_CACHE"] = os.path.join(_HF_HOME, "hub")

import shutil  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_grad_enabled(False)

from loading_fixtures import SHARED_TOKENIZERS  # noqa: E402


@pytest.fixture(autouse=True)
def _no_models_dir_from_environment(monkeypatch):
    monkeypatch.delenv("FLUXWIRE_MODELS_DIR", raising=False)


@pytest.fixture
def models_dir(tmp_path):
    """A models folder with the real T5-XXL and CLIP-L tokenizers in tokenizers/t5xxl and tokenizers/clip_l."""
    if not SHARED_TOKENIZERS.is_dir():
        pytest.skip("real tokenizers not available")
    root = tmp_path / "models"
    for name in ("t5xxl", "clip_l"):
        shutil.copytree(SHARED_TOKENIZERS / name, root / "tokenizers" / name)
    return root
