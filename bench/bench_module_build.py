"""Cold loading of each model file: building modules without filling meta weights vs the previous path.

Models are built on the meta device and then given the file's tensors, so the random values torch's
layer constructors draw (``reset_parameters``) are never used; on meta tensors those fills run through
Python decompositions. ``flux_core.loading.build.skip_meta_init`` (default True) skips them; False is
the previous path. Both run alternately in one process on the same files (the reduced-width
real-layout files of ``vs_comfyui.py``, base-width-128 autoencoder by default: the real one), and the
per-round ratio new / previous is reported per loader, with the median load times.

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_module_build.py [--repeats 5] [--vae-ch 128]``
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from flux_core.loading import build, load_checkpoint, load_diffusion_model, load_text_encoders, load_vae  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vae-ch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args(argv)
    from vs_comfyui import write_models

    torch.set_grad_enabled(False)
    root = write_models(Path(tempfile.mkdtemp(prefix="bench_build_")) / "models", args.hidden, 2, 4, 128, args.vae_ch)
    loaders = {
        "VAE": lambda: load_vae(root / "vae" / "ae.safetensors"),
        "transformer": lambda: load_diffusion_model(root / "diffusion_models" / "flux1-dev.safetensors"),
        "text encoders": lambda: load_text_encoders(root / "text_encoders" / "t5xxl_fp16.safetensors",
                                                    root / "text_encoders" / "clip_l.safetensors", models_dir=root),
        "fp8 checkpoint": lambda: load_checkpoint(root / "checkpoints" / "flux1-dev-fp8.safetensors", models_dir=root),
    }
    for load in loaders.values():  # first loads: imports, tokenizers, page cache
        load()
    print(f"cold load per file (VAE base width {args.vae_ch}, transformer width {args.hidden}), "
          f"median of {args.repeats}, previous path = random fills on meta")
    for name, load in loaders.items():
        times = {True: [], False: []}
        for r in range(args.repeats):
            for skip in ((True, False) if r % 2 else (False, True)):
                build.skip_meta_init = skip
                start = time.perf_counter()
                load()
                times[skip].append(time.perf_counter() - start)
        build.skip_meta_init = True
        ratio = statistics.median(a / b for a, b in zip(times[True], times[False]))
        print(f"  {name:<15} now {statistics.median(times[True]) * 1000:7.1f} ms   previous "
              f"{statistics.median(times[False]) * 1000:7.1f} ms   ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
