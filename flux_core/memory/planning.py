"""What the manager would do with the real FLUX.1 dev transformer on a given card: a table, no weights.

The model is built on the meta device (shapes and dtypes only), its linear weights stored as the chosen
format would store them (bf16; fp8 with bf16 for the rest; GGUF Q4_K where rows fit 256-value blocks,
as ComfyUI-GGUF's Q4_K files do), and planned for a budget left after the activation reserve of a
1024² picture with 512 T5 tokens. ``python -m flux_core.memory.planning`` prints the table in docs/memory.md.
"""
from __future__ import annotations

import torch
from torch import nn

from .budget import GB, activation_reserve, describe
from .plan import module_plan

FORMATS = ("bf16", "fp8", "GGUF Q4_K")
BUDGETS_GB = (6, 8, 12, 16, 24, 80)


def meta_flux_dev(fmt: str) -> nn.Module:
    """FLUX.1 dev on the meta device, weights typed as ``fmt`` stores them."""
    from ..loading.build import parameters_on_meta
    from ..loading.gguf_linear import swap_quantized
    from ..models.transformer import Flux, FluxParams

    with parameters_on_meta():
        model = Flux(FluxParams.dev()).to(torch.bfloat16)
    linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    if fmt == "fp8":
        for m in linears.values():
            m.weight.data = m.weight.data.to(torch.float8_e4m3fn)
    elif fmt == "GGUF Q4_K":
        swap_quantized(model, {name: "Q4_K" for name, m in linears.items() if m.in_features % 256 == 0})
        for m in model.modules():  # the swapped-in layers' biases are made fresh (fp32): as the file keeps them
            if getattr(m, "bias", None) is not None and m.bias.dtype == torch.float32:
                m.bias.data = m.bias.data.to(torch.bfloat16)
    elif fmt != "bf16":
        raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
    return model


def planning_rows(budgets_gb=BUDGETS_GB, formats=FORMATS, width: int = 1024, height: int = 1024) -> list[dict]:
    reserve = activation_reserve(width, height, batch=1, txt_tokens=512)
    rows = []
    for fmt in formats:
        model = meta_flux_dev(fmt)
        for gb in budgets_gb:
            plan = module_plan(model, gb * GB - reserve, f"FLUX.1 dev ({fmt})")
            rows.append({"format": fmt, "budget": gb * GB, "policy": plan.policy,
                         "resident_blocks": plan.resident_blocks, "blocks": plan.blocks,
                         "resident_bytes": plan.resident_bytes, "moved_per_step": plan.streamed_bytes,
                         "peak_bytes": plan.peak_bytes + reserve, "model_bytes": module_plan(model, None).peak_bytes,
                         "reserve": reserve})
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = ["| weights | model | budget | policy | blocks on device | resident | moved per step | est. peak |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['format']} | {describe(r['model_bytes'])} | {r['budget'] // GB} GB | {r['policy']} | "
                     f"{r['resident_blocks']}/{r['blocks']} | {describe(r['resident_bytes'])} | "
                     f"{describe(r['moved_per_step']) if r['moved_per_step'] else '0'} | {describe(r['peak_bytes'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(planning_rows()))
