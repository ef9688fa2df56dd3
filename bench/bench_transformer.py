"""Transformer forward time: fluxwire's Flux vs diffusers' FluxTransformer2DModel, same weights.

Mid-size config (hidden 768 = 6 heads x 128, 4 double + 8 single blocks, 1024 image tokens +
128 text tokens, guidance embedder on), fp32 and bf16, batch 1, CPU. The two models are timed
alternately in one process so that load from other jobs hits both alike. Reported: the median
time of each, and the median over rounds of the per-round ratio ours / diffusers (each round times
both models back to back, so slow drifts in machine load cancel). Issue 3 target: ratio <= 0.85.
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

from flux_core import sampling  # noqa: E402
from flux_core.models import Flux, FluxParams  # noqa: E402

IMG_TOKENS = 1024  # 32 x 32 patches = a 512 x 512 px image
TXT_TOKENS = 128


def mid_params() -> FluxParams:
    return FluxParams(hidden_size=768, num_heads=6, depth=4, depth_single_blocks=8, guidance_embed=True)


def build_models(params: FluxParams):
    """Our model with small random weights, and diffusers' model loaded with the same weights."""
    from diffusers import FluxTransformer2DModel

    from flux_core.loading.keymaps import bfl_to_diffusers_transformer
    from flux_core.loading.tensors import from_tensors, to_tensors

    torch.manual_seed(0)
    ours = Flux(params).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0.0, 0.02)
    ref = FluxTransformer2DModel(
        patch_size=1,
        in_channels=params.in_channels,
        num_layers=params.depth,
        num_single_layers=params.depth_single_blocks,
        attention_head_dim=params.hidden_size // params.num_heads,
        num_attention_heads=params.num_heads,
        joint_attention_dim=params.context_in_dim,
        pooled_projection_dim=params.vec_in_dim,
        guidance_embeds=params.guidance_embed,
        axes_dims_rope=tuple(params.axes_dim),
    ).eval()
    ref.load_state_dict(to_tensors(bfl_to_diffusers_transformer(from_tensors(ours.state_dict()))), strict=True)
    return ours, ref


def make_inputs(params: FluxParams, dtype: torch.dtype) -> dict:
    g = torch.Generator().manual_seed(1)
    side = int(IMG_TOKENS**0.5) * 2
    return dict(
        img=torch.randn(1, IMG_TOKENS, params.in_channels, generator=g).to(dtype),
        img_ids=sampling.img_ids(1, side, side),
        txt=torch.randn(1, TXT_TOKENS, params.context_in_dim, generator=g).to(dtype),
        txt_ids=sampling.txt_ids(1, TXT_TOKENS),
        timesteps=torch.tensor([0.5], dtype=dtype),
        y=torch.randn(1, params.vec_in_dim, generator=g).to(dtype),
        guidance=torch.tensor([2.0], dtype=dtype),
    )


def run_ours(model, inp):
    return model(**inp)


def run_ref(model, inp):
    return model(
        hidden_states=inp["img"],
        encoder_hidden_states=inp["txt"],
        pooled_projections=inp["y"],
        timestep=inp["timesteps"],
        img_ids=inp["img_ids"][0],
        txt_ids=inp["txt_ids"][0],
        guidance=inp["guidance"],
        return_dict=False,
    )[0]


def time_alternating(ours, ref, inp, repeats: int) -> tuple[list[float], list[float]]:
    t_ours, t_ref = [], []
    with torch.inference_mode():
        run_ours(ours, inp)  # warm-up
        run_ref(ref, inp)
        for i in range(repeats):
            order = [(ours, run_ours, t_ours), (ref, run_ref, t_ref)]
            if i % 2:
                order.reverse()
            for model, fn, times in order:
                start = time.perf_counter()
                fn(model, inp)
                times.append(time.perf_counter() - start)
    return t_ours, t_ref


def measure(dtypes=("fp32", "bf16"), repeats: int = 5) -> list[dict]:
    params = mid_params()
    ours, ref = build_models(params)
    results = []
    for name in dtypes:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[name]
        ours.to(dtype)
        ref.to(dtype)
        inp = make_inputs(params, dtype)
        with torch.inference_mode():
            a, b = run_ours(ours, inp).float(), run_ref(ref, inp).float()
        rel = ((a - b).norm() / b.norm()).item()
        t_ours, t_ref = time_alternating(ours, ref, inp, repeats)
        m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
        ratio = statistics.median(a / b for a, b in zip(t_ours, t_ref))
        results.append(
            dict(dtype=name, ours_s=m_ours, diffusers_s=m_ref, ratio=ratio, best_ratio=min(t_ours) / min(t_ref),
                 rel_diff=rel)
        )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed forwards per model and dtype")
    parser.add_argument("--dtype", choices=["fp32", "bf16", "both"], default="both")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dtypes = ("fp32", "bf16") if args.dtype == "both" else (args.dtype,)
    print(
        f"FLUX transformer forward: hidden 768, 4 double + 8 single blocks, {IMG_TOKENS} image + {TXT_TOKENS} "
        f"text tokens, batch 1, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    for r in measure(dtypes, args.repeats):
        verdict = "OK" if r["ratio"] <= 0.85 else "ABOVE TARGET"
        print(
            f"{r['dtype']}: ours {r['ours_s'] * 1000:.1f} ms, diffusers {r['diffusers_s'] * 1000:.1f} ms, "
            f"ratio {r['ratio']:.3f} (best-of ratio {r['best_ratio']:.3f}; target <= 0.85: {verdict}); "
            f"output rel. diff {r['rel_diff']:.2e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
