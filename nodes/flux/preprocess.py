"""Control-picture preprocessors for FLUX.1 Canny / Depth: Canny edges and Depth Anything depth maps
(flux_core.preprocess). ImageInvert (image_ops) turns white-on-black maps around."""
from __future__ import annotations

from flux_core.graph.node import Float, Input, ModelFile, Node, NodeError, Output

from .folders import file_stamp, model_path


class Canny(Node):
    """Edge map of a picture for FLUX.1 Canny: white edges on black. Thresholds are gradient strengths of
    a 0..1 picture, as in ComfyUI's Canny (a sharp black/white edge measures 4): a pixel is an edge above
    `high_threshold`, or above `low_threshold` when it continues an edge."""

    category = "control"
    inputs = [Input("image", "IMAGE"),
              Float("low_threshold", 0.4, min=0.01, max=0.99, step=0.01),
              Float("high_threshold", 0.8, min=0.01, max=0.99, step=0.01)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image, low_threshold, high_threshold):
        from flux_core.preprocess import canny_edges

        if low_threshold > high_threshold:
            raise NodeError(f"low_threshold {low_threshold} is above high_threshold {high_threshold}",
                            input="low_threshold")
        return canny_edges(image, low_threshold, high_threshold)


class DepthMap(Node):
    """Depth map of a picture for FLUX.1 Depth: white = near, scaled to 0..1 per picture. The model is a
    transformers depth-estimation folder (e.g. Depth Anything V2 Small, saved with save_pretrained) in
    models/depth/."""

    category = "control"
    inputs = [Input("image", "IMAGE"), ModelFile("depth_model", "depth", "depth-anything-v2-small")]
    outputs = [Output("image", "IMAGE")]

    @classmethod
    def fingerprint(cls, env, depth_model, **_):
        folder = model_path("depth", depth_model, env, "depth_model")
        return tuple(file_stamp(p) for p in sorted(folder.iterdir())) if folder.is_dir() else file_stamp(folder)

    def run(self, ctx, image, depth_model):
        from flux_core.memory import adopt, borrow, load_device, manager_for
        from flux_core.preprocess import DepthEstimator

        folder = model_path("depth", depth_model, ctx.env, "depth_model")
        files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        manager_for(ctx).make_ram_room(sum(p.stat().st_size for p in files))

        def load():
            return DepthEstimator(folder, load_device(ctx))

        try:
            estimator = load()
        except (OSError, ValueError, KeyError) as e:
            raise NodeError(f"cannot load the depth model {depth_model}: {e}", input="depth_model") from None
        # built on the CPU like every model; the manager places it for the estimate
        adopt(estimator.model, ctx, name=depth_model, reload=lambda: load().model)
        with borrow(estimator.model, ctx=ctx):
            return estimator.depth_map(image)


NODES = [Canny, DepthMap]
