"""Autoencoder decode (and encode) time: fluxwire's AutoEncoder vs diffusers' AutoencoderKL, same weights.

The FLUX autoencoder layout (4 levels, ch_mult 1-2-4-4, 2 ResNets per level, 16 latent channels,
32 groups, mid-block attention) at a reduced base width (``--ch``, default 32; the real model is
128, 16x the convolution work: minutes per decode on a 2-core CPU). Random weights, batch 1, fp32,
CPU. The two models run alternately in one process so load from other jobs hits both alike.
Reported per size: median times, the median per-round ratio ours / diffusers (target <= 1.0: at
least as fast as the reference), the output difference, and the decode's fraction of this machine's
measured conv peak (see bench_peak.py).

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_vae.py [--ch 32] [--sizes 256,1024] [--repeats 3]``
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

from flux_core.models import AutoEncoder, AutoEncoderParams  # noqa: E402


def build_pair(ch: int):
    """Our autoencoder with random weights and diffusers' AutoencoderKL holding the same weights."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    p = AutoEncoderParams(ch=ch)
    torch.manual_seed(0)
    ours = AutoEncoder(p).eval()
    with torch.no_grad():
        for name, t in ours.named_parameters():
            if name.endswith("weight") and t.ndim == 4:
                torch.nn.init.normal_(t, 0.0, (1.0 / (t.shape[1] * t.shape[2] * t.shape[3])) ** 0.5)
    n = len(p.ch_mult)
    ref = AutoencoderKL(
        in_channels=p.in_channels, out_channels=p.out_ch, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(p.ch * m for m in p.ch_mult),
        layers_per_block=p.num_res_blocks, act_fn="silu", latent_channels=p.z_channels,
        norm_num_groups=p.norm_groups, scaling_factor=p.scale_factor, shift_factor=p.shift_factor,
        use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=True,
    ).eval()
    ref.load_state_dict(convert_ldm_vae_checkpoint(dict(ours.state_dict()), dict(ref.config)), strict=True)
    return ours, ref


def decode_flops(p: AutoEncoderParams, side: int) -> float:
    """Multiply-adds x 2 of the decoder's convolutions and attention at output size ``side`` (the bulk of its work)."""
    flops = 0.0
    r = side // 2 ** (len(p.ch_mult) - 1)
    c = p.ch * p.ch_mult[-1]
    flops += 2 * 9 * p.z_channels * c * r * r  # conv_in
    flops += 2 * (2 * 2 * 9 * c * c * r * r)  # mid ResNets
    flops += 2 * (4 * c * c * r * r + 2 * (r * r) ** 2 * c)  # mid attention: q, k, v, proj and the two products
    for i in reversed(range(len(p.ch_mult))):
        out = p.ch * p.ch_mult[i]
        for _ in range(p.num_res_blocks + 1):
            flops += 2 * 9 * (c * out + out * out) * r * r + (2 * c * out * r * r if c != out else 0)
            c = out
        if i:
            r *= 2
            flops += 2 * 9 * c * c * r * r
    flops += 2 * 9 * c * p.out_ch * r * r
    return flops


def to_png_seconds(image: torch.Tensor) -> tuple[float, float]:
    """(seconds to make 8-bit pixels, seconds to encode the PNG) of a decoded [1, 3, H, W] image, the way
    SaveImage does it (clamp, x255, round; PIL at compress_level 4)."""
    import io

    from PIL import Image

    start = time.perf_counter()
    arr = (((image[0].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy() * 255).round().astype("uint8")
    pixels = time.perf_counter() - start
    start = time.perf_counter()
    Image.fromarray(arr).save(io.BytesIO(), format="PNG", compress_level=4)
    return pixels, time.perf_counter() - start


def time_pair(fn_ours, fn_ref, repeats: int) -> tuple[list[float], list[float]]:
    t_ours, t_ref = [], []
    for i in range(repeats):
        order = [(fn_ours, t_ours), (fn_ref, t_ref)]
        if i % 2:
            order.reverse()
        for fn, times in order:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return t_ours, t_ref


def measure(ch: int = 32, sizes=(256, 1024), repeats: int = 3, encode: bool = False) -> list[dict]:
    ours, ref = build_pair(ch)
    p = ours.params
    results = []
    for side in sizes:
        g = torch.Generator().manual_seed(side)
        z = torch.randn(1, p.z_channels, side // 8, side // 8, generator=g)
        jobs = [("decode", lambda: ours.decode(z), lambda: ref.decode(z / p.scale_factor + p.shift_factor).sample)]
        if encode:
            x = torch.rand(1, 3, side, side, generator=g) * 2 - 1
            jobs.append(("encode", lambda: ours.encode(x),
                         lambda: (ref.encode(x).latent_dist.mode() - p.shift_factor) * p.scale_factor))
        with torch.inference_mode():
            for what, fn_ours, fn_ref in jobs:
                a, b = fn_ours(), fn_ref()  # warm-up and parity
                diff = (a - b).abs().max().item()
                rel = ((a - b).norm() / b.norm()).item()
                # 8-bit pixels that differ (decode only): what a saved picture would show
                px = lambda t: (((t + 1) / 2).clamp(0, 1) * 255).round()  # noqa: E731
                pixel_diff = (px(a) != px(b)).float().mean().item() if what == "decode" else 0.0
                t_ours, t_ref = time_pair(fn_ours, fn_ref, repeats)
                pixels, png = to_png_seconds(a) if what == "decode" else (None, None)
                results.append(dict(
                    what=what, side=side, ours_s=statistics.median(t_ours), diffusers_s=statistics.median(t_ref),
                    ratio=statistics.median(x / y for x, y in zip(t_ours, t_ref)), max_diff=diff, rel_diff=rel,
                    pixel_diff=pixel_diff,
                    gflops=decode_flops(p, side) / 1e9 if what == "decode" else None, pixels_s=pixels, png_s=png,
                ))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ch", type=int, default=32, help="base width (FLUX: 128)")
    parser.add_argument("--sizes", default="256,1024", help="output sides in pixels, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encode", action="store_true", help="time encode too")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(f"FLUX autoencoder layout, base width {args.ch}, fp32, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    from bench_peak import conv_gflops

    peak = conv_gflops(repeats=3)
    print(f"3x3 conv peak now: {peak:.0f} GFLOP/s")
    for r in measure(args.ch, sizes, args.repeats, args.encode):
        rate = ""
        if r["gflops"]:
            rate = (f", {r['gflops'] / r['ours_s']:.0f} GFLOP/s ({r['gflops']:.0f} GFLOP; "
                    f"{r['gflops'] / r['ours_s'] / peak:.0%} of the conv peak); then 8-bit pixels "
                    f"{r['pixels_s'] * 1000:.0f} ms, PNG {r['png_s'] * 1000:.0f} ms")
        verdict = "OK" if r["ratio"] <= 1.0 else "ABOVE TARGET"
        print(f"{r['what']} {r['side']}²: ours {r['ours_s']:.2f} s, diffusers {r['diffusers_s']:.2f} s, "
              f"ratio {r['ratio']:.3f} (target <= 1.0: {verdict}), max |diff| {r['max_diff']:.1e} "
              f"(rel. {r['rel_diff']:.1e}, 8-bit pixels differing {r['pixel_diff']:.3%}){rate}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
