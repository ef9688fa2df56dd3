"""XYGrid: a sweep from the canvas. Runs the branch feeding it once per (x, y) cell with two widgets
overridden, and shows a labelled grid picture; every cell's PNG and the grid are saved.

The cells run on a helper executor that shares the running executor's registry, settings and result
cache, so loaded models and every node a cell does not change come from the cache (see flux_core.sweep).
"""
from __future__ import annotations

import io

import numpy as np

from flux_core.files import write_numbered
from flux_core.graph.node import Input, Int, Node, NodeError, Output, String
from flux_core.sweep import grid, grid_picture, parse_vary
from flux_core.graph.workflow import WorkflowError


class XYGrid(Node):
    """Run the picture's branch for every X value (columns) and Y value (rows): e.g. x noise.seed = 1..4,
    y prompt.text = a red circle,a blue square. Saves every cell and a labelled grid; outputs the grid."""

    category = "image"
    output_node = True
    inputs = [Input("image", "IMAGE"), String("x", "noise.seed"), String("x_values", "1..4"),
              String("y", ""), String("y_values", ""), String("filename_prefix", "xygrid"),
              Int("thumbnail", 256, min=16, max=1024)]
    outputs = [Output("grid", "IMAGE")]

    def run(self, ctx, image, x, x_values, y, y_values, filename_prefix, thumbnail):
        executor = ctx.run_info.get("executor")
        workflow = ctx.run_info.get("workflow")
        link = next((l for l in getattr(workflow, "links", []) if l.target == ctx.node_id and l.input == "image"),
                    None)
        if executor is None or link is None:
            raise NodeError("XYGrid needs to run inside a workflow with its picture linked", input="image")
        axes = []
        for key, values, name in ((y, y_values, "y"), (x, x_values, "x")):
            if not key.strip():
                continue
            try:
                axes.append(parse_vary(f"{key.strip()}={values}"))
            except WorkflowError as e:
                raise NodeError(e.problems[0].message, input=name) from None
        if not axes:
            raise NodeError("give at least the X widget to vary (e.g. noise.seed) and its values", input="x")
        cells = grid(axes)
        helper = executor.sibling()
        base = dict(ctx.run_info.get("overrides") or {})
        pictures = []
        for i, cell in enumerate(cells):
            ctx.check_interrupted()
            try:
                result = helper.run(workflow, {**base, **cell.overrides}, outputs=[link.source])
            except WorkflowError as e:
                raise NodeError(f"cell {cell.overrides}: {e}", input="x") from None
            except Exception as e:  # noqa: BLE001 - the cell's failure, named, fails this node
                raise NodeError(f"cell {cell.overrides} failed: {e}", input="image") from None
            picture = result.outputs[link.source][link.output]
            pil = _pil(picture)
            path = write_numbered(ctx.output_dir, f"{filename_prefix}-cell", ".png", lambda f: pil.save(f, "PNG"))
            cell.images, cell.status = [str(path)], "success"
            pictures.append(str(path))
            ctx.progress(i + 1, len(cells), pil)
        sheet = grid_picture(cells, axes, thumb=thumbnail)
        buf = io.BytesIO()
        sheet.save(buf, format="PNG")
        grid_path = write_numbered(ctx.output_dir, f"{filename_prefix}-grid", ".png", buf.getvalue())
        ctx.show(images=[str(grid_path)] + pictures)
        import torch

        return torch.from_numpy(np.asarray(sheet, dtype=np.float32) / 255.0)[None]


def _pil(image):
    from PIL import Image

    from flux_core.picture_ops import to_8bit

    return Image.fromarray(to_8bit(image[0]))


NODES = [XYGrid]
