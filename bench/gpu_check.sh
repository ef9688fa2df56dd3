#!/usr/bin/env bash
# The memory and device checks for a machine with a CUDA GPU (about 10 minutes; needs ~14 GB of RAM).
#  1. the device-sensitive tests (memory manager, GGUF, nodes) with FLUXWIRE_DEVICE=cuda;
#  2. the shipped flux-mini workflow on cuda vs cpu (PSNR >= 40 dB);
#  3. a real-size FLUX.1 dev forward (random fp8 weights) at 1024² under each policy: resident,
#     partial, streaming - it/s, torch.cuda.max_memory_allocated against the budget, and that the
#     streamed blocks got pinned CPU homes (true async prefetch on the side stream).
# Usage: bench/gpu_check.sh   (from the repository root; PYTHON defaults to .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH=$PWD OMP_WAIT_POLICY=PASSIVE CI=1
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"

echo "== 1. device-sensitive tests on cuda"
FLUXWIRE_DEVICE=cuda "$PYTHON" -m pytest -q -x -p no:cacheprovider tests/memory tests/loading/test_gguf.py \
  tests/nodes/test_flux_nodes.py tests/nodes/test_gguf_nodes.py

echo "== 2. flux-mini workflow, cuda vs cpu"
"$PYTHON" - <<'PY'
import math, tempfile
import numpy as np
from PIL import Image
from flux_core import Executor

def picture(device):
    out = tempfile.mkdtemp()
    r = Executor(device=device, output_dir=out).run("workflows/flux-mini.json")
    return np.asarray(Image.open(r.ui["save"]["images"][0]), dtype=np.float64)

cpu, cuda = picture("cpu"), picture("cuda")
mse = ((cpu - cuda) ** 2).mean()
psnr = 10 * math.log10(255 ** 2 / max(mse, 1e-12))
print(f"flux-mini cuda vs cpu: PSNR {psnr:.1f} dB ({'ok' if psnr >= 40 else 'MISSED: < 40 dB'})")
PY

echo "== 3. real-size FLUX.1 dev forward at 1024² per policy"
"$PYTHON" bench/gpu_policies.py
