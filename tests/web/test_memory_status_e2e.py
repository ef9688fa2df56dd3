"""The run's memory decisions on the canvas: a real server, a real browser, a simulated accelerator whose
budget forces evictions, and the chip + list checked against the manager's own events."""
from __future__ import annotations

import json

import pytest

from flux_core import Executor
from flux_core.memory import MemoryManager, SimulatedDevice
from web.memory_status import memory_mark, memory_status
from web.runner import CanvasRunner, ImagePublisher

from ..nodes.test_flux_nodes import shipped
from ..nodes.tiny_models import write_models_folder
from .canvas_helpers import launch_app

STEPS = {"scheduler.steps": 2}


@pytest.fixture(scope="module")
def tight_models(tmp_path_factory):
    """The tiny models and a simulated device size that holds the largest model but not all of them."""
    root = tmp_path_factory.mktemp("memory_canvas")
    models = write_models_folder(root / "models")
    probe = MemoryManager(SimulatedDevice(1 << 40))
    Executor(models_dir=models, output_dir=root / "probe", memory=probe).run(shipped("flux-dev.json", **STEPS))
    sizes = [m["bytes"] for m in probe.report()["models"].values()]
    return models, max(sizes) + 1024


def tight_executor_for(tight_models, out):
    models, capacity = tight_models
    return Executor(models_dir=models, output_dir=out, memory=MemoryManager(SimulatedDevice(capacity)))


@pytest.fixture
def tight_executor(tight_models, tmp_path):
    return tight_executor_for(tight_models, tmp_path / "out")


def test_the_run_state_carries_this_runs_memory_decisions(tight_executor, tmp_path):
    runner = CanvasRunner(tight_executor, ImagePublisher(tmp_path / "pub"), yield_interval=0.01)
    mark = memory_mark(tight_executor)
    states = list(runner.run(shipped("flux-dev.json", **STEPS, **{"noise.seed": 1})))
    final = states[-1]
    assert final["status"] == "success", final["message"]
    events = tight_executor.env.memory.events[mark:]
    memory = final["memory"]
    assert len(memory["lines"]) == len(events) > 0
    assert memory == memory_status(tight_executor, mark)
    evicted = [e for e in events if e["event"] == "evicted"]
    assert evicted and "evicted" in memory["kinds"]
    assert f"{len(evicted)} eviction" in memory["headline"]
    for e in evicted:
        assert any(line.startswith(f"{e['model']} left the device") for line in memory["lines"])
    assert "budget" in memory["budgets"] and "simulated" in memory["budgets"]
    # a new seed: the sampler runs again with the models already placed - nothing of the first run shows
    again = list(runner.run(shipped("flux-dev.json", **STEPS, **{"noise.seed": 2})))[-1]
    assert again["status"] == "success"
    assert again["memory"]["lines"] == [] and again["memory"]["headline"].startswith("no change")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(browser, tight_models, tmp_path_factory):
    executor = tight_executor_for(tight_models, tmp_path_factory.mktemp("served"))
    demo, url = launch_app(executor)
    yield url, executor
    demo.close()


def test_the_canvas_shows_the_memory_decisions_of_the_run(browser, served, tmp_path):
    app_url, tight_executor = served
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_selector('.fw-root[data-ready="1"]')
    chip = page.locator('[data-role="memory"]')
    assert chip.is_hidden()
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(shipped("flux-dev.json", **STEPS)))
    with page.expect_file_chooser() as fc:
        page.click('[data-action="open"]')
    fc.value.set_files(str(path))
    page.wait_for_function("document.querySelectorAll('.fw-node').length >= 8")
    mark = memory_mark(tight_executor)
    page.click('[data-action="run"]')
    page.wait_for_selector('.fw-root[data-run-status="success"]')
    page.wait_for_selector('[data-role="memory"]:not([hidden])')
    expected = memory_status(tight_executor, mark)
    assert chip.inner_text() == "memory: " + expected["headline"]
    assert "eviction" in chip.inner_text() and "resident" in chip.inner_text()
    assert "evicted" in chip.get_attribute("data-kinds").split()
    panel = page.locator('[data-role="memory-panel"]')
    assert panel.is_hidden()
    chip.click()
    assert panel.is_visible()
    items = panel.locator("li").all_inner_texts()
    assert items == expected["lines"]
    assert any("left the device" in line for line in items)
    assert expected["budgets"] in panel.inner_text()
    context.close()
    assert errors == []
