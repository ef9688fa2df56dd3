"""Parity suite setup: the oracles must be installed; everything runs in fp32 without autograd."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield
