"""Control-picture preprocessors for FLUX.1 Canny/Depth: Canny edge maps (OpenCV) and depth maps from a
transformers depth-estimation model (Depth Anything class).

Canny keeps ComfyUI's meaning of the thresholds (its Canny node runs kornia: grey, 5x5 Gaussian blur with
sigma 1, unnormalised 3x3 Sobel, L2 magnitude, thresholds in those units of a 0..1 picture) but runs
OpenCV's Canny on those same gradients: hundreds of times faster on a CPU (bench/bench_canny.py) with
nearly the same edges. Pictures are IMAGE tensors [B, H, W, 3] in 0..1; the maps come back in the same
layout, white = edge / near, so they feed ControlConditioning directly."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

GREY = (0.299, 0.587, 0.114)  # the luma weights ComfyUI's (kornia's) Canny uses
_GRADIENT_SCALE = 4000.0  # Sobel of a 0..1 picture is at most 4 per axis: 16000 fits OpenCV's int16 input


def canny_edges(image: Tensor, low_threshold: float, high_threshold: float) -> Tensor:
    """Binary edge map of each picture, thresholds in Sobel-magnitude units of a 0..1 picture (ComfyUI's
    Canny: 0.4 and 0.8 by default; a unit step edge measures 4)."""
    import cv2

    if not 0 <= low_threshold <= high_threshold:
        raise ValueError(f"the thresholds must satisfy 0 <= low ({low_threshold}) <= high ({high_threshold})")
    rgb = image[..., :3].float().cpu().numpy()
    grey = (rgb * np.asarray(GREY, dtype=np.float32)).sum(-1, dtype=np.float32)
    low, high = (t * _GRADIENT_SCALE for t in (low_threshold, high_threshold))
    maps = []
    for g in grey:
        blurred = cv2.GaussianBlur(g, (5, 5), 1.0, borderType=cv2.BORDER_REFLECT_101)
        dx, dy = (np.rint(cv2.Sobel(blurred, cv2.CV_32F, ox, oy, ksize=3, borderType=cv2.BORDER_REPLICATE)
                          * _GRADIENT_SCALE).astype(np.int16) for ox, oy in ((1, 0), (0, 1)))
        maps.append(cv2.Canny(dx, dy, low, high, L2gradient=True) > 0)
    edges = torch.from_numpy(np.stack(maps).astype(np.float32))
    return edges[..., None].expand(-1, -1, -1, 3).contiguous()


class DepthEstimator:
    """A transformers depth-estimation model (Depth Anything class) with its image processor, loaded from a
    save_pretrained folder (config.json, weights, preprocessor_config.json)."""

    def __init__(self, folder, device="cpu"):
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.processor = AutoImageProcessor.from_pretrained(folder)
        self.model = AutoModelForDepthEstimation.from_pretrained(folder).to(device).eval()
        self.device = device

    def depth_map(self, image: Tensor) -> Tensor:
        """Relative depth of each picture at its own size, scaled to 0..1 per picture (white = near, as
        Depth Anything predicts disparity), grey in three channels."""
        import torch.nn.functional as F

        b, h, w, _ = image.shape
        pictures = [p.numpy() for p in image[..., :3].float().cpu()]
        inputs = self.processor(images=pictures, return_tensors="pt", do_rescale=False)
        device = next(self.model.parameters()).device  # where a memory manager put it, not where it was built
        with torch.inference_mode():
            depth = self.model(pixel_values=inputs["pixel_values"].to(device)).predicted_depth
        depth = F.interpolate(depth.float().cpu()[:, None], size=(h, w), mode="bicubic", align_corners=False)[:, 0]
        low = depth.amin(dim=(1, 2), keepdim=True)
        span = (depth.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-8)
        return ((depth - low) / span)[..., None].expand(-1, -1, -1, 3).contiguous()
