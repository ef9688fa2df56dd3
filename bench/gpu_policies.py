"""Real-size FLUX.1 dev (random fp8 weights, 11.9 GB) forward at 1024² on CUDA under each memory policy.

Prints per budget: the manager's plan, seconds per forward (it/s), bytes moved,
``torch.cuda.max_memory_allocated`` next to the budget plus the activation reserve, and the bytes of
streamed blocks given pinned CPU homes (their prefetch is then truly asynchronous). Part of gpu_check.sh.
"""
from __future__ import annotations

import time

import torch
from torch import nn

from flux_core.loading.build import parameters_on_meta
from flux_core.memory import Device, MemoryManager, activation_reserve
from flux_core.memory.budget import GB, describe
from flux_core.models import Flux, FluxParams


def random_dev_fp8() -> Flux:
    """FLUX.1 dev with random weights on the CPU: linear weights fp8 (as the fp8 files), the rest bf16."""
    from flux_core.loading.fp8 import swap_linears

    with parameters_on_meta():
        model = Flux(FluxParams.dev())
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    swap_linears(model, {n: None for n in linears})
    g = torch.Generator().manual_seed(0)
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is None:
                continue
            fp8 = name == "weight" and module.__class__.__name__ == "CastLinear"
            t = torch.randn(p.shape, generator=g, dtype=torch.bfloat16) * 0.02
            module._parameters[name] = nn.Parameter(t.to(torch.float8_e4m3fn) if fp8 else t, requires_grad=False)
    return model.eval()


def inputs(device):
    h = w = 1024 // 16
    ids = torch.zeros(1, h * w, 3, device=device)
    ids[0, :, 1] = torch.arange(h, device=device).repeat_interleave(w)
    ids[0, :, 2] = torch.arange(w, device=device).repeat(h)
    bf = torch.bfloat16
    return dict(img=torch.randn(1, h * w, 64, device=device, dtype=bf), img_ids=ids,
                txt=torch.randn(1, 512, 4096, device=device, dtype=bf), txt_ids=torch.zeros(1, 512, 3, device=device),
                timesteps=torch.tensor([0.5], device=device), y=torch.randn(1, 768, device=device, dtype=bf),
                guidance=torch.tensor([3.5], device=device))


def main():
    device = torch.device("cuda")
    model = random_dev_fp8()
    x = inputs(device)
    reserve = activation_reserve(1024, 1024)
    free = torch.cuda.mem_get_info()[0]
    budgets = [b for b in (None, 8 * GB, 4 * GB, 2 * GB) if b is None or b < free]
    for budget in budgets:
        manager = MemoryManager(Device(device), vram_budget=budget if budget is not None else "high")
        manager.adopt(model, "flux1-dev fp8")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with manager.borrow(model), torch.inference_mode():
            model(**x)  # warm-up (first copies)
            torch.cuda.synchronize()
            t0 = time.time()
            for _ in range(2):
                model(**x)
            torch.cuda.synchronize()
            seconds = (time.time() - t0) / 2
        report = manager.report()
        plan = report["models"]["flux1-dev fp8"]["policy"]
        peak = torch.cuda.max_memory_allocated()
        streamed = plan not in (None, "resident")
        pinned_ok = report["pinned_bytes"] > 0 if streamed else report["pinned_bytes"] == 0
        print(f"budget {describe(budget)}: {plan}, {1 / seconds:.2f} it/s, moved {describe(manager.bytes_moved)}, "
              f"max_memory_allocated {describe(peak)} (budget + reserve {describe((budget or free) + reserve)}), "
              f"pinned {describe(report['pinned_bytes'])} ({'ok' if pinned_ok else 'MISSED: streamed blocks not pinned'})")
        manager.forget(model)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
