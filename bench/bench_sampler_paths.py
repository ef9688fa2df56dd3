"""Sampler fast paths at 256² and 1024² token counts, and the cost of a preview per step.

1. Attention (6 heads x 128, the head size of FLUX): fluxwire's ``attention`` (q/k/v as the blocks
   hand them over: strided views of the fused projection; bf16 goes through its own fp32 kernel)
   vs plain ``F.scaled_dot_product_attention`` on contiguous tensors. RoPE is applied by both.
2. Linear (hidden 768 -> 3 x 768, the fused qkv): ``layers.linear`` (oneDNN) vs ``F.linear`` (torch's
   default), fp32 and bf16.
3. Preview: ``latent_preview`` per step (false colour, and decoded with a width-32 FLUX-layout
   autoencoder) as a fraction of one transformer step (hidden 768, 4 + 8 blocks). Target: <= 5%.

Token counts: 256² = 256 image + 256 text tokens, 1024² = 4096 image + 256 text tokens.
Ratios < 1 mean fluxwire's path is faster. Also reported: the step's fraction of the matmul peak.

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_sampler_paths.py [--sizes 256,1024]``
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from flux_core import sampling  # noqa: E402
from flux_core.models import Flux, FluxParams  # noqa: E402
from flux_core.models import layers  # noqa: E402

TXT_TOKENS = 256
HEADS, HEAD_DIM, HIDDEN = 6, 128, 768


def alternate(fn_a, fn_b, repeats: int) -> tuple[float, float, float]:
    """(median a, median b, median per-round a/b), warm-up first, order alternating."""
    fn_a(), fn_b()
    ta, tb = [], []
    for i in range(repeats):
        pair = [(fn_a, ta), (fn_b, tb)]
        for fn, times in pair if i % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb), statistics.median(a / b for a, b in zip(ta, tb))


def attention_case(tokens: int, dtype: torch.dtype, repeats: int) -> tuple[float, float, float]:
    g = torch.Generator().manual_seed(0)
    qkv = torch.randn(1, tokens, 3 * HEADS * HEAD_DIM, generator=g).to(dtype)
    q, k, v = layers.split_qkv(qkv, HEADS)
    ids = sampling.txt_ids(1, tokens)
    ids[..., 1] = torch.arange(tokens) // 64
    ids[..., 2] = torch.arange(tokens) % 64
    pe = layers.EmbedND(HEAD_DIM, 10000, [16, 56, 56])(ids)

    def plain():
        qc, kc = layers.apply_rope(q, pe), layers.apply_rope(k, pe)
        return F.scaled_dot_product_attention(qc, kc, v.contiguous()).transpose(1, 2).flatten(2)

    with torch.inference_mode():
        return alternate(lambda: layers.attention(q, k, v, pe), plain, repeats)


def linear_case(tokens: int, dtype: torch.dtype, repeats: int) -> tuple[float, float, float]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, tokens, HIDDEN, generator=g).to(dtype)
    w = (torch.randn(3 * HIDDEN, HIDDEN, generator=g) * 0.02).to(dtype)
    b = torch.zeros(3 * HIDDEN).to(dtype)
    with torch.inference_mode():
        return alternate(lambda: layers.linear(x, w, b), lambda: F.linear(x, w, b), repeats)


def step_flops(p: FluxParams, tokens: int) -> float:
    """Matmul FLOPs of one forward (projections, MLPs and attention products) at ``tokens`` total tokens."""
    h, mlp = p.hidden_size, int(p.hidden_size * p.mlp_ratio)
    double = 2 * (3 * h * h + h * h + 2 * h * mlp)  # per token, both streams together count once per token
    single = 3 * h * h + h * mlp + (h + mlp) * h
    attention = 2 * tokens * h  # q k^T and p v per token
    return 2 * tokens * (p.depth * (double / 2 + attention) + p.depth_single_blocks * (single + attention))


def preview_case(side: int, repeats: int) -> dict:
    from nodes.flux.preview import latent_preview  # as the sampler node calls it
    from nodes.flux.values import Vae
    from flux_core.models import AutoEncoder, AutoEncoderParams

    params = FluxParams(hidden_size=HIDDEN, num_heads=HEADS, depth=4, depth_single_blocks=8, guidance_embed=True)
    torch.manual_seed(0)
    model = Flux(params).eval()
    ae = AutoEncoder(AutoEncoderParams(ch=32)).eval()
    g = torch.Generator().manual_seed(1)
    n = (side // 16) ** 2
    inp = dict(img=torch.randn(1, n, params.in_channels, generator=g), img_ids=sampling.img_ids(1, side // 8, side // 8),
               txt=torch.randn(1, TXT_TOKENS, params.context_in_dim, generator=g), txt_ids=sampling.txt_ids(1, TXT_TOKENS),
               timesteps=torch.tensor([0.5]), y=torch.randn(1, params.vec_in_dim, generator=g),
               guidance=torch.tensor([3.5]))
    latent = torch.randn(1, 16, side // 8, side // 8, generator=g)
    vae = Vae(ae, "bench")
    out = {}
    with torch.inference_mode():
        step, cheap, ratio = alternate(lambda: model(**inp), lambda: latent_preview(latent), repeats)
        out["step_s"], out["false colour"] = step, cheap / step
        _, decoded, _ = alternate(lambda: model(**inp), lambda: latent_preview(latent, vae), max(1, repeats // 2))
        out["with vae"] = decoded / step
        out["step_gflops"] = step_flops(params, n + TXT_TOKENS) / step / 1e9
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from bench_peak import matmul_gflops

    peak = matmul_gflops(torch.float32, repeats=3)
    print(f"{torch.get_num_threads()} threads; fp32 matmul peak now: {peak:.0f} GFLOP/s; ratios ours / reference")
    for side in (int(s) for s in args.sizes.split(",")):
        tokens = (side // 16) ** 2 + TXT_TOKENS
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a, b, r = attention_case(tokens, dtype, args.repeats)
            print(f"{side}² ({tokens} tokens) attention {name}: ours {a * 1000:.1f} ms, plain SDPA {b * 1000:.1f} ms, "
                  f"ratio {r:.2f}", flush=True)
            a, b, r = linear_case(tokens, dtype, args.repeats)
            print(f"{side}² ({tokens} tokens) qkv linear {name}: ours {a * 1000:.2f} ms, F.linear {b * 1000:.2f} ms, "
                  f"ratio {r:.2f}", flush=True)
        p = preview_case(side, max(2, args.repeats // 2))
        verdict = "OK" if max(p["false colour"], p["with vae"]) <= 0.05 else "ABOVE TARGET"
        print(f"{side}² step {p['step_s'] * 1000:.0f} ms ({p['step_gflops']:.0f} GFLOP/s = "
              f"{p['step_gflops'] / peak:.0%} of the matmul peak); preview per step: false colour "
              f"{p['false colour']:.1%}, with vae {p['with vae']:.1%} of a step (target <= 5%: {verdict})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
