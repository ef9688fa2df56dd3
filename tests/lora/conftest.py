import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: the machines share 2 cores

import pytest  # noqa: E402
import torch  # noqa: E402

from flux_core.models import Flux  # noqa: E402
from tests.parity.helpers import randomize_, tiny_flux_params  # noqa: E402


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


@pytest.fixture
def tiny_model():
    return randomize_(Flux(tiny_flux_params(True)), seed=0).eval()
