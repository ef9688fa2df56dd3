"""Peak memory of decoding with the autoencoder whole vs in tiles (flux-mini AE, random latents).

Each decode runs in a fresh process; reported: peak RSS above the process's baseline after loading.
A whole 2048² decode is not attempted (4x the whole 1024² activations, and its attention's score matrix
alone 17 GB). Only one tile is on the *device* at a time; on the CPU the tiles' states (a few full-size
maps) are kept between layers, so on a CPU-only run the peak still grows with the picture, far slower
than a whole decode's. Target: the tiled 2048² decode peaks below the whole 1024² one.

    python bench/bench_vae_tiling.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20

CHILD = r"""
import json, resource, time, torch
from flux_core.loading import load_vae
from flux_core.model_folders import SHIPPED_MODELS
from flux_core.models.vae_tiling import decode_tiled
torch.set_grad_enabled(False)
ae = load_vae(SHIPPED_MODELS / "vae" / "flux-mini-ae.safetensors", device="cpu")
z = torch.randn(1, 16, {side} // 8, {side} // 8)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.time()
x = decode_tiled(ae, z, {tile}, 64) if {tile} else ae.decode(z)
print(json.dumps({{"extra_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base,
                  "seconds": time.time() - t0, "output_bytes": x.numel() * 4}}))
"""


def measure(side: int, tile: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(side=side, tile=tile)], capture_output=True,
                          text=True, env=env)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    whole = measure(1024, 0)
    tiled_1k = measure(1024, 512)
    tiled_2k = measure(2048, 512)
    for label, r in (("whole 1024²", whole), ("tiled 1024² (512 px tiles)", tiled_1k),
                     ("tiled 2048² (512 px tiles)", tiled_2k)):
        print(f"{label}: extra peak RSS {r['extra_peak'] / MB:.0f} MB, {r['seconds']:.1f}s")
    ratio = tiled_2k["extra_peak"] / max(whole["extra_peak"], 1)
    print(f"tiled 2048² / whole 1024² peak: {ratio:.2f} (target < 1: {'ok' if ratio < 1 else 'MISSED'}); "
          f"a whole 2048² decode would need about {4 * whole['extra_peak'] / MB:.0f} MB plus its attention")


if __name__ == "__main__":
    main()
