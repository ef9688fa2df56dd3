"""Whole shipped workflows on a simulated accelerator: the same bits under every budget, never over it.

Budgets are chosen from the models' real sizes so that each forces one policy: whole models evicted
(text encoders leave before the transformer comes), a partially resident transformer, and a fully
streamed one. The simulated device copies every weight it is given, so a run under a budget computes
from other memory than the unlimited run, and a node that computes without borrowing its model fails.
"""
import pytest
import torch

from flux_core import Executor
from flux_core.memory import MemoryManager, SimulatedDevice, module_plan

from ..nodes.test_flux_nodes import shipped

UNLIMITED = 1 << 40
WORKFLOWS = ["flux-dev.json", "flux-img2img.json", "flux-step-by-step.json"]  # guidance, encode, single steps


def _run(models, tmp_path, name, capacity):
    manager = MemoryManager(SimulatedDevice(capacity))
    executor = Executor(models_dir=models, output_dir=tmp_path / f"out-{capacity}", memory=manager)
    result = executor.run(shipped(name, **({"scheduler.steps": 2} if name == "flux-dev.json" else {})))
    return result, manager


def _tensors(result) -> dict[str, torch.Tensor]:
    """Every tensor the nodes produced (latents, conditioning, images), by node.output.field."""
    out = {}
    for node, outputs in result.outputs.items():
        for socket, value in outputs.items():
            if isinstance(value, torch.Tensor):
                out[f"{node}.{socket}"] = value
            for field in ("samples", "txt", "vec"):
                if isinstance(getattr(value, field, None), torch.Tensor):
                    out[f"{node}.{socket}.{field}"] = getattr(value, field)
    return out


def _budgets(result, manager) -> dict[str, int]:
    """Budgets forcing: eviction of whole models, partial residency, streaming of the transformer."""
    sizes = {name: info["bytes"] for name, info in manager.report()["models"].items()}
    flux = next(v for values in result.outputs.values() for v in values.values()
                if type(v).__name__ == "FluxModel").model
    flux_bytes = module_plan(flux, None).resident_bytes
    others = max(b for b in sizes.values() if b != flux_bytes)
    found = {"evict": max(sizes.values())}
    assert sum(sizes.values()) > found["evict"]
    for budget in range(others, flux_bytes, 4096):
        policy = module_plan(flux, budget).policy
        found.setdefault(policy, budget)
    assert {"streaming", "partial"} <= set(found), found
    return {k: found[k] for k in ("evict", "partial", "streaming")}


@pytest.mark.slow
@pytest.mark.parametrize("name", WORKFLOWS)
def test_outputs_are_bit_identical_under_every_budget(memory_models, tmp_path, name):
    reference, manager = _run(memory_models, tmp_path, name, UNLIMITED)
    expected = _tensors(reference)
    assert any(k.endswith(".image") or "image" in k for k in expected) or name == "flux-step-by-step.json"
    for policy, budget in _budgets(reference, manager).items():
        result, manager = _run(memory_models, tmp_path, name, budget)
        got = _tensors(result)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(got[key], value), f"{name}, {policy} budget {budget}: {key} differs"
        assert 0 < manager.peak_device_bytes <= budget, (policy, manager.peak_device_bytes, budget)
        plans = [e for e in manager.events if e["event"] == "plan" and e["model"].startswith("flux1")]
        assert plans and plans[-1]["policy"] == ("resident" if policy == "evict" else policy), plans
        if policy == "evict":
            evicted = {e["model"] for e in manager.events if e["event"] == "evicted"}
            assert evicted, manager.events
        if policy != "evict":
            assert manager.bytes_moved > sum(i["bytes"] for i in manager.report()["models"].values())


@pytest.mark.slow
def test_a_ram_budget_below_the_models_sum_keeps_only_what_the_running_node_needs(memory_models, tmp_path):
    reference, manager = _run(memory_models, tmp_path, "flux-dev.json", UNLIMITED)
    sizes = [info["bytes"] for info in manager.report()["models"].values()]
    ram = max(sizes) + 1024
    manager = MemoryManager(SimulatedDevice(UNLIMITED), ram_budget=ram)
    executor = Executor(models_dir=memory_models, output_dir=tmp_path / "ram", memory=manager)
    result = executor.run(shipped("flux-dev.json", **{"scheduler.steps": 2}))
    expected, got = _tensors(reference), _tensors(result)
    assert all(torch.equal(got[k], v) for k, v in expected.items())
    kinds = [e["event"] for e in manager.events]
    assert "released" in kinds and "reloaded" in kinds
    assert max(manager.ram_history) <= ram
