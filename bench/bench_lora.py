"""Cost per sampler step of LoRAs: applied at run time (fluxwire's choice) vs merged into the weights.

Small FLUX config (hidden 512 = 4 heads x 128, 1 double + 2 single blocks, 256 image + 64 text
tokens, batch 1, CPU, one thread: the shared machines are too noisy for more), rank-16 LoRAs on every linear layer of every block (what trainers write by
default). One model step (one forward = one Euler step) is timed for 0, 1 and 4 LoRAs, at run time
and merged (a copy whose patched layers hold W + sum of deltas), alternating in rounds so machine load
hits all variants alike. Also reported: extra memory of each way, how long merging takes (the cost a
strength change pays when merged), the output difference between the two ways, and the drift that an
in-place bf16 merge followed by an un-merge leaves in the base weights.

    python bench/bench_lora.py [--rounds 15] [--threads 1] [--dtype fp32|bf16]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from flux_core import sampling  # noqa: E402
from flux_core.lora import apply_to_model, convert  # noqa: E402
from flux_core.lora.patch import CopyOnWrite, LoRALinear  # noqa: E402
from flux_core.models import Flux, FluxParams  # noqa: E402
from flux_core.models.layers import Linear  # noqa: E402

IMG_TOKENS, TXT_TOKENS, RANK = 256, 64, 16


def build(dtype):
    torch.manual_seed(0)
    params = FluxParams(hidden_size=512, num_heads=4, depth=1, depth_single_blocks=2, guidance_embed=True)
    model = Flux(params).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.to(dtype)


def random_lora(model, seed):
    """A kohya-layout rank-16 LoRA on every block linear layer."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and "blocks" in name:
            key = "lora_unet_" + name.replace(".", "_")
            sd[f"{key}.lora_down.weight"] = 0.01 * torch.randn(RANK, m.in_features, generator=g)
            sd[f"{key}.lora_up.weight"] = 0.01 * torch.randn(m.out_features, RANK, generator=g)
            sd[f"{key}.alpha"] = torch.tensor(float(RANK))
    return convert(sd, model, source=f"lora{seed}")


def merged(model, patched):
    """A copy of ``model`` whose patched layers hold the merged weights (plain Linear, no wrapper)."""
    dtype = next(model.parameters()).dtype
    cow = CopyOnWrite(model)
    for name, m in patched.named_modules():
        if isinstance(m, LoRALinear):
            w = m.base.weight.float()
            for a in m.applied:
                w = w + a.update.weight_delta(m.base.weight) * a.strength
            layer = Linear(w.shape[1], w.shape[0], bias=True, dtype=dtype)
            layer.weight.data.copy_(w)
            layer.bias.data.copy_(m.base.bias)
            cow.set_module(name, layer.requires_grad_(False))
    return cow.result


def inputs(params, dtype):
    g = torch.Generator().manual_seed(1)
    h = w = int(IMG_TOKENS**0.5) * 2
    return dict(img=torch.randn(1, IMG_TOKENS, params.in_channels, generator=g).to(dtype),
                img_ids=sampling.img_ids(1, h, w), txt=torch.randn(1, TXT_TOKENS, params.context_in_dim,
                                                                   generator=g).to(dtype),
                txt_ids=sampling.txt_ids(1, TXT_TOKENS), timesteps=torch.tensor([0.5], dtype=dtype),
                y=torch.randn(1, params.vec_in_dim, generator=g).to(dtype), guidance=torch.tensor([3.5], dtype=dtype))


def lora_bytes(patched) -> int:
    """The LoRA tensors of every wrapper: each update's factors plus the stacked copy of fused groups."""
    return sum(t.numel() * t.element_size() for m in patched.modules() if isinstance(m, LoRALinear)
               for group in (m.applied, m.fused) for t in group.buffers())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args(argv)
    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    torch.set_num_threads(args.threads)
    with torch.no_grad():
        model = build(dtype)
        loras = [random_lora(model, s) for s in range(4)]
        inp = inputs(model.params, dtype)
        variants = {"0 LoRAs": model}
        merge_seconds = {}
        for n in (1, 4):
            rt = apply_to_model(model, [(lora, 0.8) for lora in loras[:n]])
            start = time.perf_counter()
            mg = merged(model, rt)
            merge_seconds[n] = time.perf_counter() - start
            variants[f"{n} runtime"], variants[f"{n} merged"] = rt, mg
        times = {k: [] for k in variants}
        for m in variants.values():
            m(**inp)  # warm
        for _ in range(args.rounds):
            for name, m in variants.items():
                start = time.perf_counter()
                m(**inp)
                times[name].append(time.perf_counter() - start)
        layers = sum(1 for n, m in model.named_modules() if isinstance(m, nn.Linear) and "blocks" in n)
        print(f"per-step time, {args.dtype}, {args.threads} thread(s), hidden 512, 1+2 blocks, {IMG_TOKENS}+{TXT_TOKENS} tokens, "
              f"rank-{RANK} LoRAs on all {layers} block layers ({args.rounds} rounds; ratio = median over rounds "
              "of time / the same round's no-LoRA time):")
        for name, t in times.items():
            ratio = statistics.median(x / b for x, b in zip(t, times["0 LoRAs"]))
            print(f"  {name:12s} {statistics.median(t) * 1000:8.1f} ms   x{ratio:.3f} of no LoRA")
        block_weights = sum(m.weight.numel() * m.weight.element_size() for n, m in model.named_modules()
                            if isinstance(m, nn.Linear) and "blocks" in n)
        for n in (1, 4):
            rt = variants[f"{n} runtime"]
            diff = (rt(**inp).float() - variants[f"{n} merged"](**inp).float()).abs().max().item()
            print(f"  {n} LoRA(s): extra memory at run time {lora_bytes(rt) / 2**20:.1f} MiB, merged "
                  f"{block_weights / 2**20:.1f} MiB (a copy of every patched weight, or an in-place merge "
                  f"+ backup); merging took {merge_seconds[n] * 1000:.0f} ms; max |runtime - merged| output "
                  f"{diff:.3e}")
        # in-place merge then un-merge in bf16: what a "merge, later un-merge" design leaves behind
        w = model.double_blocks[0].img_attn.qkv.weight.detach().to(torch.bfloat16)
        delta = (loras[0].updates["transformer"]["double_blocks.0.img_attn.qkv"][0].weight_delta(w) * 0.8)
        restored = ((w.float() + delta).to(torch.bfloat16).float() - delta).to(torch.bfloat16)
        changed = (restored != w).float().mean().item()
        print(f"  bf16 in-place merge + un-merge: {changed * 100:.1f}% of the weights of one layer no longer "
              f"equal the base (max drift {(restored.float() - w.float()).abs().max().item():.2e}); run-time "
              f"application never writes the base")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
