"""The memory manager's decisions on a simulated device: plans, eviction order, streaming, RAM release."""
import pytest
import torch
from torch import nn

from flux_core.memory import MemoryBudgetError, MemoryManager, SimulatedDevice, choose_plan, parse_budget
from flux_core.memory.budget import GB, MB, BudgetError

from .conftest import wide_flux


def flux_inputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = model.params
    h, w = 4, 4
    ids = torch.zeros(1, h * w, 3)
    ids[0, :, 1] = torch.arange(h).repeat_interleave(w)
    ids[0, :, 2] = torch.arange(w).repeat(h)
    return dict(img=torch.randn(1, h * w, p.in_channels, generator=g), img_ids=ids,
                txt=torch.randn(1, 7, p.context_in_dim, generator=g), txt_ids=torch.zeros(1, 7, 3),
                timesteps=torch.tensor([0.6]), y=torch.randn(1, p.vec_in_dim, generator=g),
                guidance=torch.tensor([3.5]))


def test_budget_strings():
    assert parse_budget("12GB") == 12 * GB
    assert parse_budget("800 mb") == 800 * MB
    assert parse_budget(1024) == 1024
    assert parse_budget("auto") == "auto" and parse_budget("low") == "low"
    assert parse_budget(None) is None
    with pytest.raises(BudgetError, match="not a size"):
        parse_budget("twelve gigs")


def test_plans_prefer_resident_then_partial_then_streaming():
    blocks = [100] * 10
    assert choose_plan(50, blocks, None).policy == "resident"
    assert choose_plan(50, blocks, 1050).policy == "resident"
    partial = choose_plan(50, blocks, 700)
    assert partial.policy == "partial" and partial.prefetch
    assert partial.resident_blocks == 4 and partial.peak_bytes == 50 + 400 + 200 <= 700
    assert partial.streamed_bytes == 600
    stream = choose_plan(50, blocks, 260)
    assert (stream.policy, stream.resident_blocks, stream.prefetch, stream.peak_bytes) == ("streaming", 0, True, 250)
    tight = choose_plan(50, blocks, 160)
    assert (tight.policy, tight.prefetch, tight.peak_bytes) == ("streaming", False, 150)
    with pytest.raises(MemoryBudgetError, match="budget"):
        choose_plan(50, blocks, 120)


@pytest.mark.parametrize("fraction", [None, 0.9, 0.6, 0.36])
def test_a_transformer_forward_is_bit_identical_and_within_budget_under_any_plan(fraction):
    model = wide_flux(True, 3)
    inputs = flux_inputs(model)
    reference = model(**inputs)
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    budget = None if fraction is None else int(total * fraction)
    manager = MemoryManager(SimulatedDevice(budget or 1 << 40))
    manager.adopt(model, "flux")
    with manager.borrow(model):
        first = model(**inputs)
        second = model(**inputs)  # streamed blocks come back for the next step
    assert torch.equal(first, reference) and torch.equal(second, reference)
    plan = manager.report()["models"]["flux"]["policy"]
    assert plan == {None: "resident", 0.9: "partial", 0.6: "streaming", 0.36: "streaming"}[fraction]
    assert manager.peak_device_bytes <= (budget or total)
    if budget is not None:
        assert manager.bytes_moved >= total  # every weight was copied in at least once
        assert manager.device_bytes < total  # streamed blocks left after the borrow
    with pytest.raises(RuntimeError, match="without being borrowed"):
        model(**inputs)


def _tiny(width, seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(width, width), nn.Linear(width, width)).eval()


def test_idle_models_are_evicted_least_recently_used_first_and_models_in_use_never():
    a, b, c = _tiny(64, 0), _tiny(64, 1), _tiny(64, 2)
    size = sum(p.numel() * 4 for p in a.parameters())
    manager = MemoryManager(SimulatedDevice(2 * size + 100))
    for name, m in zip("abc", (a, b, c)):
        manager.adopt(m, name)
    x = torch.randn(3, 64)
    with manager.borrow(a):
        a(x)
    with manager.borrow(b):
        b(x)
    with manager.borrow(a):  # a is now more recently used than b
        a(x)
    with manager.borrow(c):
        c(x)
    evicted = [e["model"] for e in manager.events if e["event"] == "evicted"]
    assert evicted == ["b"]
    with manager.borrow(a), manager.borrow(c):  # both in use: the third must plan around them
        with pytest.raises(MemoryBudgetError):
            with manager.borrow(b):
                pass
    assert manager.peak_device_bytes <= 2 * size + 100


def test_ram_budget_releases_idle_models_and_reloads_them_bit_identically():
    made = []

    def loader(seed):
        def load():
            model = _tiny(128, seed)
            made.append(seed)
            return model
        return load

    a, b = loader(0)(), loader(1)()
    size = sum(p.numel() * 4 for p in a.parameters())
    manager = MemoryManager(SimulatedDevice(1 << 30), ram_budget=int(1.5 * size))
    x = torch.randn(2, 128)
    ref_a, ref_b = a(x), b(x)
    manager.adopt(a, "a", reload=loader(0))
    manager.adopt(b, "b", reload=loader(1))  # over the RAM budget: a (idle) is released
    assert manager.report()["models"]["a"]["released"]
    assert all(p.numel() == 0 for p in a.parameters())  # its weights are gone from RAM
    with manager.borrow(b):
        assert torch.equal(b(x), ref_b)
    with manager.borrow(a):  # read again from its "file"; b is released to make room
        assert torch.equal(a(x), ref_a)
    assert manager.report()["models"]["b"]["released"] and not manager.report()["models"]["a"]["released"]
    assert [e["event"] for e in manager.events if e["event"] in ("released", "reloaded")] == \
        ["released", "released", "reloaded"]


def test_fp8_layers_are_told_to_expand_once_only_when_the_expanded_weights_fit():
    """The manager drives CastLinear's switch: "once" (keep an expanded copy) only when that copy fits the
    device room next to the fp8 weights, else "per_layer"."""
    from flux_core.loading.fp8 import CastLinear

    def model():
        layers = nn.Sequential(*[CastLinear(64, 64, True, None) for _ in range(4)])
        for layer in layers:
            layer.weight = nn.Parameter(torch.randn(64, 64).to(torch.float8_e4m3fn), requires_grad=False)
            layer.bias = nn.Parameter(torch.zeros(64), requires_grad=False)
        return layers

    roomy, tight = model(), model()
    compact = sum(p.numel() * p.element_size() for p in roomy.parameters())
    for m, capacity in ((roomy, 10 * compact), (tight, compact + 100)):
        manager = MemoryManager(SimulatedDevice(capacity))
        manager.adopt(m, "fp8")
        with manager.borrow(m):
            m(torch.randn(2, 64))
    assert {layer.expansion for layer in roomy} == {"once"}
    assert all(layer.expanded_weight is not None for layer in roomy)
    assert {layer.expansion for layer in tight} == {"per_layer"}
    assert all(layer.expanded_weight is None for layer in tight)


def test_a_model_nobody_holds_is_forgotten_with_its_device_copies():
    import gc

    manager = MemoryManager(SimulatedDevice(1 << 30))
    model = _tiny(64, 0)
    manager.adopt(model, "gone")
    with manager.borrow(model):
        model(torch.randn(1, 64))
    assert manager.device_bytes > 0
    del model
    gc.collect()
    assert manager.report()["models"] == {} and manager.device_bytes == 0
