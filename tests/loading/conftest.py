"""Fixtures for the loading tests: tiny real models written as real files into a temp folder."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from loading_fixtures import SHARED_TOKENIZERS  # noqa: E402


@pytest.fixture(autouse=True)
def _inference_only():
    """Loaded models are for inference; no autograd bookkeeping in these tests (scoped, not process-wide)."""
    with torch.no_grad():
        yield


@pytest.fixture(autouse=True)
def _offline_empty_hub_cache(tmp_path_factory, monkeypatch):
    """No network, and an empty Hugging Face cache, so a missing tokenizer is really missing."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf_hub_cache")))
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
