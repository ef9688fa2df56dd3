import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: the machines share 2 cores

import pytest  # noqa: E402

from flux_core import Executor  # noqa: E402


@pytest.fixture
def shipped_only_executor(tmp_path):
    """An executor whose user models folder is empty: only the models inside the package can be found."""
    return Executor(models_dir=tmp_path / "no-models", output_dir=tmp_path / "out")
