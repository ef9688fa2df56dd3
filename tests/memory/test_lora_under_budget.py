"""A LoRA-patched model under a device budget: the patched copy shares its base's weights, so the manager
counts and moves them once (through the base) and only the LoRA's own tensors as the copy's; with the
base transformer streamed, the pictures are the unlimited run's, bit for bit, and the peak stays in budget."""
from pathlib import Path

import numpy as np
import pytest
import torch

from flux_core import Executor
from flux_core.lora.patch import LoRALinear
from flux_core.memory import MemoryManager, SimulatedDevice, module_plan

WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "flux-mini-lora.json"
UNLIMITED = 1 << 40


def _run(tmp_path, capacity):
    manager = MemoryManager(SimulatedDevice(capacity))
    executor = Executor(models_dir=tmp_path / "no-models", output_dir=tmp_path / f"out-{capacity}", memory=manager)
    result = executor.run(str(WORKFLOW))
    return result, manager


def _own_lora_bytes(patched) -> int:
    """Bytes of the tensors only the patched copy has: its LoRA wrappers' update tensors."""
    seen, n = set(), 0
    for module in patched.modules():
        if isinstance(module, LoRALinear):
            for sub in (*module.applied, *module.fused):
                for t in sub.buffers():
                    if id(t) not in seen:
                        seen.add(id(t))
                        n += t.numel() * t.element_size()
    return n


@pytest.mark.slow
def test_lora_with_a_streamed_base_gives_the_same_pixels_within_budget_and_counts_shared_weights_once(tmp_path):
    reference, manager = _run(tmp_path, UNLIMITED)
    picture = reference.outputs["decode"]["image"].numpy()
    base = reference.outputs["model"]["model"].model
    patched = reference.outputs["lora"]["model"].model
    assert patched is not base
    base_bytes = module_plan(base, None).resident_bytes
    lora_bytes = _own_lora_bytes(patched)
    models = manager.report()["models"]
    # the patched copy is counted for its own tensors only, never again for the base's
    assert models["flux-mini.safetensors"]["bytes"] == base_bytes
    patched_name = next(n for n, e in manager._entries.items() if e.module is patched)
    patched_entry = manager._entries[patched_name]
    assert patched_entry.nbytes == lora_bytes > 0
    assert [b.name for b in patched_entry.bases] == ["flux-mini.safetensors"]
    shares = [e for e in manager.events if e["event"] == "shares"]
    assert any(e["bytes"] == lora_bytes and e["bases"] == ["flux-mini.safetensors"] for e in shares)
    total = sum(m["bytes"] for m in models.values())
    assert manager.peak_device_bytes <= total  # everything fits once: nothing was counted twice

    others = max(m["bytes"] for name, m in models.items() if name != "flux-mini.safetensors"
                 and m["bytes"] < base_bytes)
    budget = next(b for b in range(others + lora_bytes, base_bytes + lora_bytes, 2048)
                  if module_plan(base, b - lora_bytes).policy == "streaming")
    result, tight = _run(tmp_path, budget)
    assert np.array_equal(result.outputs["decode"]["image"].numpy(), picture)
    assert 0 < tight.peak_device_bytes <= budget
    plans = [e for e in tight.events if e["event"] == "plan" and e["model"] == "flux-mini.safetensors"]
    assert plans and plans[-1]["policy"] == "streaming", plans
    # the streamed base moved more than its size (every step), the LoRA tensors stayed once
    assert tight.bytes_moved > base_bytes
    assert tight.report()["models"]["flux-mini.safetensors"]["bytes"] == base_bytes


def _patched_copy(base, seed=3):
    """A LoRA-patched shallow copy of ``base`` (rank 4 on every double block's qkv), built as LoadLoRA does."""
    from flux_core.lora.patch import CopyOnWrite, Update

    g = torch.Generator().manual_seed(seed)
    patch = CopyOnWrite(base)
    for i, block in enumerate(base.double_blocks):
        layer = block.img_attn.qkv
        update = Update(up=torch.randn(layer.out_features, 4, generator=g) * 0.1,
                        down=torch.randn(4, layer.in_features, generator=g) * 0.1, scale=1.0)
        patch.add_updates(f"double_blocks.{i}.img_attn.qkv", [(update, 1.0)])
    return patch.result


def test_a_patched_copy_and_its_base_share_one_count_and_each_computes_alone():
    import gc

    from .conftest import wide_flux
    from .test_manager import flux_inputs

    base = wide_flux(True, 7)
    patched = _patched_copy(base)
    inputs = flux_inputs(base)
    ref_base, ref_patched = base(**inputs), patched(**inputs)
    assert not torch.equal(ref_base, ref_patched)
    base_bytes = module_plan(base, None).resident_bytes
    own = _own_lora_bytes(patched)

    for fraction in (0.6, 0.36):  # the base partially resident, then streamed, under the patched copy
        budget = int(base_bytes * fraction) + own
        tight = MemoryManager(SimulatedDevice(budget))
        tight.adopt(base, "base")
        with tight.borrow(patched):
            assert torch.equal(patched(**inputs), ref_patched)
        assert tight.peak_device_bytes <= budget
        assert tight.report()["models"]["base"]["policy"] in ("partial", "streaming")
        tight.forget(base)
        tight.forget(patched)

    manager = MemoryManager(SimulatedDevice(UNLIMITED))
    manager.adopt(base, "base")
    with manager.borrow(patched):
        assert torch.equal(patched(**inputs), ref_patched)
    assert manager.device_bytes == base_bytes + own  # not 2 x base
    with manager.borrow(base):  # the copy's guards are not on the base's modules
        assert torch.equal(base(**inputs), ref_base)

    # the base dropped while the copy lives (e.g. the cache evicted the loader's result): the copy is adopted
    # again with all its tensors, and still computes the same
    del base
    gc.collect()
    with manager.borrow(patched):
        assert torch.equal(patched(**inputs), ref_patched)
    entry = manager._entries[id(patched)]
    assert entry.bases == [] and entry.nbytes == base_bytes + own
