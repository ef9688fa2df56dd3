"""fp8 weights at 256²: time per sampler step and weight memory, expanding once vs per layer.

A FLUX-layout transformer (hidden 768 = 6 x 128 heads, 4 double + 8 single blocks, guidance
embedder) with random weights is saved as an e4m3fn file and loaded three ways: fp8 with
``set_weight_expansion(model, "once")`` (expanded copies kept, as ComfyUI does on CPU), fp8 with
"per_layer" (each layer expands at each call and drops it), and the plain fp32 upcast model as the
reference. One step = one transformer forward on 256 image tokens (a 256² picture) + 256 text
tokens, fp32 compute, batch 1. Models run alternately in one process; reported are median step
times, ratios to the fp32 model, and weight bytes (stored + kept expansions; per_layer adds one
layer's expansion transiently). Target: "once" ratio <= 1.05 (no per-step casting cost left).

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_fp8.py [--repeats 5]``
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from flux_core import sampling  # noqa: E402
from flux_core.loading import load_diffusion_model, set_weight_expansion  # noqa: E402
from flux_core.models import Flux, FluxParams  # noqa: E402

IMG_TOKENS = 256  # 16 x 16 patches = 256 x 256 px
TXT_TOKENS = 256


def weight_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def make_inputs(params: FluxParams) -> dict:
    g = torch.Generator().manual_seed(1)
    side = int(IMG_TOKENS**0.5) * 2
    return dict(
        img=torch.randn(1, IMG_TOKENS, params.in_channels, generator=g),
        img_ids=sampling.img_ids(1, side, side),
        txt=torch.randn(1, TXT_TOKENS, params.context_in_dim, generator=g),
        txt_ids=sampling.txt_ids(1, TXT_TOKENS),
        timesteps=torch.tensor([0.5]),
        y=torch.randn(1, params.vec_in_dim, generator=g),
        guidance=torch.tensor([3.5]),
    )


def measure(repeats: int = 5) -> dict:
    from safetensors.torch import save_file

    params = FluxParams(hidden_size=768, num_heads=6, depth=4, depth_single_blocks=8, guidance_embed=True)
    torch.manual_seed(0)
    source = Flux(params)
    with torch.no_grad():
        for p in source.parameters():
            p.normal_(0.0, 0.02)
    state = {k: (v.to(torch.float8_e4m3fn) if k.endswith(".weight") and v.ndim == 2 else v).contiguous()
             for k, v in source.state_dict().items()}
    with tempfile.TemporaryDirectory(prefix="fluxwire-bench-") as tmp:
        path = Path(tmp) / "flux-fp8.safetensors"
        save_file(state, str(path))
        once = load_diffusion_model(path, device="cpu")
        per_layer = load_diffusion_model(path, device="cpu")
        upcast = load_diffusion_model(path, dtype="fp32", device="cpu")
    set_weight_expansion(once, "once")
    set_weight_expansion(per_layer, "per_layer")
    models = {"fp8 once": once, "fp8 per_layer": per_layer, "fp32 upcast": upcast}
    inputs = make_inputs(params)
    times = {name: [] for name in models}
    with torch.inference_mode():
        outs = {name: m(**inputs) for name, m in models.items()}  # warm-up
        for i in range(repeats):
            order = list(models.items())
            for name, m in order if i % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                m(**inputs)
                times[name].append(time.perf_counter() - start)
    ref = times["fp32 upcast"]
    return {
        name: dict(step_s=statistics.median(t), ratio=statistics.median(a / b for a, b in zip(t, ref)),
                   weight_bytes=weight_bytes(models[name]),
                   rel_diff=((outs[name] - outs["fp32 upcast"]).norm() / outs["fp32 upcast"].norm()).item())
        for name, t in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"fp8 FLUX transformer (hidden 768, 4+8 blocks), {IMG_TOKENS} image + {TXT_TOKENS} text tokens, "
          f"fp32 compute, {torch.get_num_threads()} threads, median of {args.repeats}")
    results = measure(args.repeats)
    for name, r in results.items():
        print(f"{name:>14}: {r['step_s'] * 1000:.1f} ms/step, ratio to fp32 {r['ratio']:.3f}, "
              f"weights {r['weight_bytes'] / 1e6:.0f} MB, output rel. diff to fp32 {r['rel_diff']:.1e}")
    verdict = "OK" if results["fp8 once"]["ratio"] <= 1.05 else "ABOVE TARGET"
    print(f"target: once <= 1.05x fp32: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
