"""Fixtures for the canvas tests: a registry with a test node pack, executors, a live server, a browser.

Browser tests need Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH). Without it they skip with
the reason, unless FLUXWIRE_REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

HERE = Path(__file__).parent
ARTIFACTS = HERE.parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config):
    # Gradio's queue calls a pandas option that pandas 3 deprecates; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::Warning:gradio.queueing")


@pytest.fixture(scope="session")
def test_nodes_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("custom_nodes")
    shutil.copy(HERE / "canvas_test_pack.py", folder / "canvas_test_pack.py")
    (folder / "broken_pack.py").write_text('raise RuntimeError("this pack fails on purpose")\n')
    return folder


@pytest.fixture(scope="session")
def registry(test_nodes_dir):
    from flux_core.graph.registry import discover

    reg = discover(test_nodes_dir)
    assert "SlowSteps" in reg and "broken_pack" in reg.failures, reg.problems
    return reg


@pytest.fixture
def executor(registry, tmp_path):
    from flux_core.graph.executor import Executor

    return Executor(registry, output_dir=tmp_path / "output", models_dir=tmp_path / "models",
                    input_dir=tmp_path / "input")


@pytest.fixture
def publisher(tmp_path):
    from web.runner import ImagePublisher

    return ImagePublisher(tmp_path / "published")


def _no_browser(reason: str):
    if os.environ.get("FLUXWIRE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (FLUXWIRE_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed (pip install playwright; never `playwright install`)")
    from .canvas_helpers import chromium_path

    path = chromium_path()
    if path is None:
        _no_browser("no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
    except Exception as e:  # a broken browser install is reported like a missing one
        pw.stop()
        _no_browser(f"Chromium at {path} did not start: {e}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def module_executor(registry, tmp_path_factory):
    from flux_core.graph.executor import Executor

    folder = tmp_path_factory.mktemp("run")
    return Executor(registry, output_dir=folder / "output", models_dir=folder / "models", input_dir=folder / "input")


@pytest.fixture(scope="module")
def workflows_dir(tmp_path_factory):
    """The user workflows folder of one test module's app."""
    return tmp_path_factory.mktemp("user_workflows")


@pytest.fixture(scope="module")
def app_url(browser, module_executor, workflows_dir):
    """The real app for one test module (a module with other needs defines its own). `browser` comes first:
    without Chromium the module skips before a server starts."""
    from .canvas_helpers import launch_app

    demo, url = launch_app(module_executor, workflows_dir=workflows_dir)
    yield url
    demo.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page of the canvas that fails its test on page errors (see `canvas_page`)."""
    from .canvas_helpers import canvas_page

    with canvas_page(browser, app_url) as pg:
        yield pg
