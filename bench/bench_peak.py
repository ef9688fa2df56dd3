"""The physical limit of these cores: plain torch matmul and convolution peaks (GFLOP/s).

The anchors the other benchmarks report their fraction of: a large fp32 and bf16 matmul (torch.mm)
and a 3x3 convolution of the autoencoder's shape (128 channels, channels-last, fp32). Best of a few
runs, since the machine is shared and the best run is the closest to the hardware's limit.

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_peak.py``
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402


def best_seconds(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / best_seconds(lambda: torch.mm(a, b), repeats) / 1e9


def conv_gflops(channels: int = 128, side: int = 256, repeats: int = 5) -> float:
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).eval()
    x = torch.randn(1, channels, side, side).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        seconds = best_seconds(lambda: conv(x), repeats)
    return 2 * 9 * channels * channels * side * side / seconds / 1e9


def peaks(repeats: int = 5) -> dict[str, float]:
    return {
        "matmul fp32": matmul_gflops(torch.float32, repeats=repeats),
        "matmul bf16": matmul_gflops(torch.bfloat16, repeats=repeats),
        "conv3x3 fp32": conv_gflops(repeats=repeats),
    }


def main(argv: list[str] | None = None) -> int:
    print(f"{torch.get_num_threads()} threads, best of 5")
    for name, value in peaks().items():
        print(f"{name}: {value:.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
