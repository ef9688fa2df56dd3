"""Canny edge maps: kornia (what ComfyUI's Canny node runs) against fluxwire's (OpenCV's cv2.Canny on the
same grey picture, 5x5 sigma-1 blur, unnormalised Sobel and L2 magnitude; flux_core.preprocess). Reported per
picture size: median times (and the ratio kornia / OpenCV), and the agreement: the share of all pixels
classified alike, and the share of OpenCV's edge pixels that kornia marks within one pixel (and vice versa).\nThis is how fluxwire chose OpenCV: same edges to within a pixel, hundreds of times faster.

Run: ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/bench_canny.py [--sizes 512,1024] [--repeats 5]``
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def kornia_canny(grey: torch.Tensor, low: float, high: float) -> np.ndarray:
    """ComfyUI's Canny node: kornia.filters.canny on the 0..1 picture."""
    from kornia.filters import canny

    return (canny(grey.expand(-1, -1, -1, 3).permute(0, 3, 1, 2), low, high)[1][0, 0] > 0.5).numpy()


def opencv_canny(grey: torch.Tensor, low: float, high: float) -> np.ndarray:
    """fluxwire's Canny: OpenCV on the same gradients (flux_core.preprocess.canny_edges)."""
    from flux_core.preprocess import canny_edges

    return canny_edges(grey.expand(-1, -1, -1, 3), low, high)[0, ..., 0].numpy() > 0.5


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Pixel agreement and 1-pixel-tolerant edge recall both ways."""
    def near(x):
        padded = np.pad(x, 1)
        h, w = x.shape
        return np.any([padded[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)

    return {"pixels": float((a == b).mean()),
            "b_in_a": float((near(a) & b).sum() / max(b.sum(), 1)),
            "a_in_b": float((near(b) & a).sum() / max(a.sum(), 1))}


def test_pictures(size: int):
    """The shipped example photo, and a synthetic picture of shapes with noise, both size x size."""
    from PIL import Image, ImageDraw

    photo = Image.open(ROOT / "workflows" / "input" / "example.png").convert("L").resize((size, size))
    shapes = Image.new("L", (size, size), 90)
    d = ImageDraw.Draw(shapes)
    d.ellipse((size // 8, size // 8, size // 2, size // 2), fill=200)
    d.rectangle((size // 2, size // 3, 7 * size // 8, 7 * size // 8), fill=30)
    d.polygon([(size // 10, 9 * size // 10), (size // 3, size // 2), (size // 2, 9 * size // 10)], fill=160)
    noisy = np.asarray(shapes, dtype=np.float32) + np.random.default_rng(0).normal(0, 6, (size, size))
    return {"photo": np.asarray(photo), "shapes": np.clip(noisy, 0, 255).astype(np.uint8)}


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--low", type=float, default=0.4)  # ComfyUI's Canny defaults
    ap.add_argument("--high", type=float, default=0.8)
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for size in map(int, args.sizes.split(",")):
        for name, u8 in test_pictures(size).items():
            grey = torch.from_numpy(u8.copy()).float().div(255)[None, ..., None]
            k = kornia_canny(grey, args.low, args.high)
            o = opencv_canny(grey, args.low, args.high)
            tk = timed(lambda: kornia_canny(grey, args.low, args.high), args.repeats)
            to = timed(lambda: opencv_canny(grey, args.low, args.high), args.repeats)
            a = agreement(k, o)
            print(f"{size:5d} {name:6s} kornia {tk * 1000:7.1f} ms  opencv {to * 1000:6.1f} ms  ratio {tk / to:6.1f}  "
                  f"edges k/o {k.mean():.3f}/{o.mean():.3f}  pixels alike {a['pixels']:.4f}  "
                  f"opencv-in-kornia(1px) {a['b_in_a']:.3f}  kornia-in-opencv(1px) {a['a_in_b']:.3f}")


if __name__ == "__main__":
    main()
