import pytest

from .tiny_models import write_models_folder


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """Tiny random FLUX files under the real names, written once per test session."""
    return write_models_folder(tmp_path_factory.mktemp("models"))
