"""fp8 "once" expansion is memory like the weights: the device (or, on the CPU, the RAM) budget counts it,
and evicting or releasing the model drops it."""
import torch
from torch import nn

from flux_core.loading.fp8 import CastLinear
from flux_core.memory import MemoryManager, SimulatedDevice


def fp8_model(seed: int, width: int = 64, layers: int = 4) -> nn.Sequential:
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(*[CastLinear(width, width, True, None) for _ in range(layers)])
    for layer in model:
        layer.weight = nn.Parameter((torch.randn(width, width, generator=g) * 0.1).to(torch.float8_e4m3fn),
                                    requires_grad=False)
        layer.bias = nn.Parameter(torch.zeros(width), requires_grad=False)
    return model


def nbytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.parameters())


def kept(model) -> int:
    return sum(m.expanded_weight.numel() * m.expanded_weight.element_size()
               for m in model if m.expanded_weight is not None)


def test_once_expansion_is_counted_on_the_device_and_dropped_by_eviction():
    a, b = fp8_model(0), fp8_model(1)
    compact = nbytes(a)
    expanded = sum(m.weight.numel() * 4 for m in a)  # fp32 compute dtype
    # room for one model with its expansion, not for two: a's expansion must make b leave, and vice versa
    device = SimulatedDevice(compact + expanded + compact // 2)
    x = torch.randn(3, 64)
    reference = a(x)
    manager = MemoryManager(device)
    manager.adopt(a, "a")
    manager.adopt(b, "b")
    with manager.borrow(a):
        assert {m.expansion for m in a} == {"once"}
        assert kept(a) == expanded  # made at borrow time, so the count is what is there
        assert manager.device_bytes == compact + expanded
        assert torch.equal(a(x), reference)
    with manager.borrow(b):
        b(x)
        assert kept(b) == expanded
    assert kept(a) == 0, "evicting a must drop its kept expansion"
    assert manager.report()["models"]["a"]["on_device"] == 0
    assert manager.device_bytes == compact + expanded == manager.report()["models"]["b"]["on_device"]
    assert manager.peak_device_bytes <= device.capacity
    evictions = [e for e in manager.events if e["event"] == "evicted"]
    assert evictions and evictions[0]["model"] == "a" and evictions[0]["bytes"] == compact + expanded
    once = [e for e in manager.events if e["event"] == "fp8 expansion"]
    assert [(e["model"], e["mode"], e["bytes"]) for e in once] == [("a", "once", expanded), ("b", "once", expanded)]


def test_without_room_for_the_expansion_the_layers_expand_per_call_and_nothing_extra_is_counted():
    model = fp8_model(2)
    compact = nbytes(model)
    x = torch.randn(2, 64)
    ref = model(x)  # per call, unmanaged
    manager = MemoryManager(SimulatedDevice(compact + 64))
    manager.adopt(model, "tight")
    with manager.borrow(model):
        out = model(x)
        assert manager.device_bytes == compact and kept(model) == 0
    assert torch.equal(out, ref)


def test_on_the_cpu_a_ram_budget_counts_the_expansion_and_releasing_drops_it():
    roomy, tight = fp8_model(3), fp8_model(4)
    compact = nbytes(roomy)
    expanded = sum(m.weight.numel() * 4 for m in roomy)
    x = torch.randn(2, 64)

    manager = MemoryManager("cpu", ram_budget=compact + expanded)
    manager.adopt(roomy, "roomy", reload=lambda: fp8_model(3))
    with manager.borrow(roomy):
        assert {m.expansion for m in roomy} == {"once"} and kept(roomy) == expanded
        assert manager.ram_bytes() == compact + expanded
        y = roomy(x)
    # loading another model must release the first one, expansion included
    manager.make_ram_room(compact)
    assert manager.report()["models"]["roomy"]["released"] and kept(roomy) == 0
    with manager.borrow(roomy):  # read again, expanded again, same numbers
        assert torch.equal(roomy(x), y)
    assert max(manager.ram_history) <= compact + expanded

    small = MemoryManager("cpu", ram_budget=compact + expanded // 2)
    small.adopt(tight, "tight")
    for layer in tight:
        layer.expansion = "once"  # what a loader picks on a roomy machine; the budget must overrule it
    with small.borrow(tight):
        tight(x)
        assert {m.expansion for m in tight} == {"per_layer"} and kept(tight) == 0
        assert small.ram_bytes() == compact
