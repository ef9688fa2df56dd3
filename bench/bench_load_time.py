"""Cold load time of a FLUX diffusers folder: fluxwire's loaders vs diffusers/transformers ``from_pretrained``.

A diffusers pipeline folder (written by diffusers' and transformers' own ``save_pretrained``:
transformer hidden 768 with 4 + 8 blocks, the autoencoder layout at base width 32, a 4-layer T5
with the real 32128-token vocabulary, a 4-layer CLIP, and the real T5/CLIP tokenizers from
/work/shared/data/tokenizers) is loaded in fresh processes that have already imported torch,
transformers, diffusers and flux_core — so the time is the load, not the imports. fluxwire:
``load_diffusers_folder``; reference: ``FluxTransformer2DModel``, ``AutoencoderKL``,
``T5EncoderModel``, ``CLIPTextModel`` and both ``AutoTokenizer.from_pretrained``. Reported: median
wall time of each, the ratio (target <= 0.8), fluxwire's time per part (opening files and reading
headers, building modules and materialising tensors, tokenizers), and a second load in the same
process (tokenizers are built once per process; the executor's node cache makes a repeated
loader node free altogether).

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_load_time.py [--rounds 3]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
TOKENIZERS = Path("/work/shared/data/tokenizers")


def write_folder(root: Path) -> None:
    """A random diffusers FLUX folder of the sizes in the module docstring."""
    import torch
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    torch.manual_seed(0)
    FluxTransformer2DModel(num_layers=4, num_single_layers=8, attention_head_dim=128, num_attention_heads=6,
                           joint_attention_dim=512, pooled_projection_dim=256, guidance_embeds=True,
                           axes_dims_rope=(16, 56, 56)).save_pretrained(root / "transformer")
    AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                  block_out_channels=(32, 64, 128, 128), layers_per_block=2, latent_channels=16,
                  norm_num_groups=32, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                  use_post_quant_conv=False).save_pretrained(root / "vae")
    T5EncoderModel(T5Config(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=4, num_heads=8,
                            feed_forward_proj="gated-gelu", is_encoder_decoder=False)).save_pretrained(
        root / "text_encoder_2")
    CLIPTextModel(CLIPTextConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                                 num_attention_heads=4)).save_pretrained(root / "text_encoder")
    shutil.copytree(TOKENIZERS / "clip_l", root / "tokenizer")
    shutil.copytree(TOKENIZERS / "t5xxl", root / "tokenizer_2")


CHILD = r"""
import os, sys, json, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers, diffusers
from diffusers import AutoencoderKL, FluxTransformer2DModel
from transformers import AutoTokenizer, CLIPTextModel, T5EncoderModel
import flux_core.loading as loading
from flux_core.loading import api, build, tokenizers

root, mode = sys.argv[1], sys.argv[2]
parts = {"open files + headers": 0.0, "build + materialise": 0.0, "tokenizers": 0.0}

def timed(module, name, part):
    original = getattr(module, name)
    def wrapper(*a, **k):
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            parts[part] += time.perf_counter() - start
    setattr(module, name, wrapper)

def ours():
    return loading.load_diffusers_folder(root, device="cpu")

def reference():
    return (FluxTransformer2DModel.from_pretrained(root, subfolder="transformer"),
            AutoencoderKL.from_pretrained(root, subfolder="vae"),
            T5EncoderModel.from_pretrained(root, subfolder="text_encoder_2"),
            CLIPTextModel.from_pretrained(root, subfolder="text_encoder"),
            AutoTokenizer.from_pretrained(root, subfolder="tokenizer_2"),
            AutoTokenizer.from_pretrained(root, subfolder="tokenizer"))

if mode == "ours":
    timed(api, "open_path", "open files + headers")
    timed(api, "load_module", "build + materialise")
    timed(__import__("flux_core.loading.text_encoders", fromlist=["x"]), "load_module", "build + materialise")
    timed(api, "load_tokenizer_folder", "tokenizers")
fn = ours if mode == "ours" else reference
start = time.perf_counter(); fn(); first = time.perf_counter() - start
first_parts = dict(parts)
start = time.perf_counter(); fn(); second = time.perf_counter() - start
print(json.dumps({"first": first, "second": second, "parts": first_parts}))
"""


def run_child(folder: Path, mode: str) -> dict:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), mode], capture_output=True, text=True,
                         env=env, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"{mode} load failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(rounds: int = 3) -> dict:
    with tempfile.TemporaryDirectory(prefix="fluxwire-bench-") as tmp:
        folder = Path(tmp) / "flux-diffusers"
        write_folder(folder)
        runs = {"ours": [], "diffusers": []}
        for i in range(rounds):
            for mode in ("ours", "diffusers") if i % 2 == 0 else ("diffusers", "ours"):
                runs[mode].append(run_child(folder, mode))
    first = {m: [r["first"] for r in rs] for m, rs in runs.items()}
    return {
        "ours_s": statistics.median(first["ours"]),
        "diffusers_s": statistics.median(first["diffusers"]),
        "ratio": statistics.median(a / b for a, b in zip(first["ours"], first["diffusers"])),
        "ours_second_s": statistics.median(r["second"] for r in runs["ours"]),
        "diffusers_second_s": statistics.median(r["second"] for r in runs["diffusers"]),
        "parts": {k: statistics.median(r["parts"][k] for r in runs["ours"]) for k in runs["ours"][0]["parts"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not TOKENIZERS.is_dir():
        print(f"skipped: no tokenizers at {TOKENIZERS}")
        return 0
    r = measure(args.rounds)
    verdict = "OK" if r["ratio"] <= 0.8 else "ABOVE TARGET"
    print(f"cold load of a diffusers FLUX folder (median of {args.rounds} fresh processes): ours {r['ours_s']:.2f} s, "
          f"diffusers/transformers {r['diffusers_s']:.2f} s, ratio {r['ratio']:.3f} (target <= 0.8: {verdict})")
    print("  ours by part: " + ", ".join(f"{k} {v:.3f} s" for k, v in r["parts"].items()))
    print(f"  second load in the same process: ours {r['ours_second_s']:.2f} s, "
          f"diffusers/transformers {r['diffusers_second_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
