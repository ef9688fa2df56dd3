"""A node pack for the canvas tests: slow steps with previews, a picture, and a PNG writer.

Loaded from a temporary nodes folder (like a user's custom_nodes), so the tests also exercise
pack discovery. It exists because the FLUX nodes are far too slow for most browser tests.
"""
from __future__ import annotations

import time

from PIL import Image

import json
from pathlib import Path

from flux_core.graph.node import Boolean, Combo, Float, Input, Int, Node, Output, String


def _picture(width: int, height: int, level: int) -> Image.Image:
    """A horizontal gradient whose brightness depends on `level` (so steps are visibly different)."""
    img = Image.new("RGB", (width, height))
    img.putdata([(x * 255 // max(1, width - 1), level % 256, 255 - level % 256)
                 for _y in range(height) for x in range(width)])
    return img


def _as_image(picture: Image.Image):
    """IMAGE socket values are float tensors [1, H, W, 3] in 0..1 (checked after every run)."""
    import numpy as np
    import torch

    return torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0)[None]


class SlowSteps(Node):
    """Counts up with a pause and a preview per step; long enough to watch or stop."""

    category = "test"
    inputs = [Int("steps", 5, min=1, max=1000), Float("delay", 0.2, min=0.0, max=5.0)]
    outputs = [Output("count", "INT")]

    def run(self, ctx, steps, delay):
        for i in range(steps):
            time.sleep(delay)
            ctx.progress(i + 1, steps, _picture(64, 48, 40 * i))
        return steps


class TestPicture(Node):
    """A small gradient picture, made in a few reported steps."""

    category = "test"
    inputs = [Int("width", 96, min=8, max=512), Int("height", 64, min=8, max=512),
              Int("seed", 3, min=0, max=2**32 - 1, seed=True), Float("delay", 0.1, min=0.0, max=5.0)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, width, height, seed, delay):
        for i in range(3):
            time.sleep(delay)
            ctx.progress(i + 1, 3, _picture(width, height, seed + 60 * i))
        return _as_image(_picture(width, height, seed))


class WritePicture(Node):
    """Writes the picture as a plain PNG (no workflow inside) into the output folder."""

    category = "test"
    output_node = True
    inputs = [Input("image", "IMAGE"), String("prefix", "canvas-test")]
    outputs = []

    def run(self, ctx, image, prefix):
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        path = ctx.output_dir / f"{prefix}-{ctx.node_id}-{time.time_ns()}.png"
        Image.fromarray((image[0].numpy() * 255).round().astype("uint8")).save(path)
        ctx.show(images=[str(path)])
        return {}


class WritePictures(Node):
    """Writes the picture once and shows it `copies` times, as a node showing a batch of pictures would."""

    category = "test"
    output_node = True
    inputs = [Input("image", "IMAGE"), Int("copies", 3, min=1, max=16)]
    outputs = []

    def run(self, ctx, image, copies):
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        path = ctx.output_dir / f"batch-{ctx.node_id}-{time.time_ns()}.png"
        Image.fromarray((image[0].numpy() * 255).round().astype("uint8")).save(path)
        ctx.show(images=[str(path)] * copies)
        return {}


class EveryWidget(Node):
    """One widget of every kind; outputs the values it received as JSON text."""

    category = "test"
    inputs = [Int("count", 2, min=0, max=10), Float("strength", 0.5, min=0.0, max=1.0, step=0.05, display="slider"),
              String("name", "cat"), String("prompt", "a red circle", multiline=True),
              Combo("mode", ["fast", "careful", "exact"]), Boolean("enabled", False),
              Int("seed", 0, min=0, max=2**32 - 1, seed=True)]
    outputs = [Output("summary", "STRING")]

    def run(self, ctx, **values):
        return json.dumps(values, sort_keys=True)


def _checkpoint_files(env) -> list[str]:
    folder = Path(env.models_dir) / "checkpoints" if env is not None else None
    return sorted(p.name for p in folder.glob("*.safetensors")) if folder and folder.is_dir() else []


class PickModelFile(Node):
    """Chooses a file from the models folder's checkpoints/ (a dropdown that changes with the disk)."""

    category = "test"
    inputs = [Combo("file", _checkpoint_files, optional=True)]
    outputs = [Output("name", "STRING")]

    def run(self, ctx, file=None):
        return file or ""


NODES = [SlowSteps, TestPicture, WritePicture, WritePictures, EveryWidget, PickModelFile]
