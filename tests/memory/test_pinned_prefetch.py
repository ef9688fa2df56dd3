"""Pinned CPU homes for streamed blocks: decided by the manager from the device (CUDA pins; CPU-only torch
cannot, so the simulated device stands in), reported in the plan and events, counted, and harmless to the
numbers."""
import torch

from flux_core.memory import Device, MemoryManager, SimulatedDevice

from .conftest import wide_flux
from .test_manager import flux_inputs


def _homes(manager, model):
    entry = manager._entries[id(model)]
    return entry, [[slot.home for slot in unit.slots] for unit in entry.units]  # kept alive: no address reuse


def test_streamed_blocks_get_pinned_homes_once_and_compute_the_same():
    model = wide_flux(True, 5)
    inputs = flux_inputs(model)
    reference = model(**inputs)
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    manager = MemoryManager(SimulatedDevice(int(total * 0.9), pinned=True))
    manager.adopt(model, "flux")
    entry, before = _homes(manager, model)
    with manager.borrow(model):
        out = model(**inputs)
    _, after = _homes(manager, model)
    plan = entry.plan
    assert plan.policy == "partial" and plan.prefetch and plan.resident_blocks > 0
    kept = 1 + plan.resident_blocks
    same = [[x.data_ptr() == y.data_ptr() for x, y in zip(a, b)] for a, b in zip(after, before)]
    assert all(all(s) for s in same[:kept]), "the stem and resident blocks are copied once; they are not pinned"
    assert not any(any(s) for s in same[kept:]), "streamed homes are new (pinned) buffers"
    assert manager.pinned_bytes() == plan.streamed_bytes == manager.report()["models"]["flux"]["pinned_bytes"]
    assert torch.equal(out, reference)
    plan_event = next(e for e in manager.events if e["event"] == "plan")
    assert plan_event["pinned"] is True
    with manager.borrow(model):
        assert torch.equal(model(**inputs), reference)
    pinned = [e for e in manager.events if e["event"] == "pinned"]
    assert len(pinned) == 1 and pinned[0]["blocks"] == plan.blocks - plan.resident_blocks
    assert pinned[0]["bytes"] == plan.streamed_bytes


def test_nothing_is_pinned_when_resident_or_when_the_device_does_not_pin():
    for device_pins, fraction in ((True, 2.0), (False, 0.6)):
        model = wide_flux(True, 6)
        inputs = flux_inputs(model)
        total = sum(p.numel() * p.element_size() for p in model.parameters())
        manager = MemoryManager(SimulatedDevice(int(total * fraction), pinned=device_pins))
        manager.adopt(model, "flux")
        with manager.borrow(model):
            model(**inputs)
        assert manager.pinned_bytes() == 0
        assert not [e for e in manager.events if e["event"] == "pinned"]
        assert next(e for e in manager.events if e["event"] == "plan")["pinned"] is False
    assert Device("cpu").pins_memory is False  # a CPU run computes in place: nothing to pin
