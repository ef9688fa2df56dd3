"""Picking pictures out of a latent batch (ComfyUI's LatentFromBatch), keeping which batch positions they were.

ComfyUI remembers the positions as the latent's ``batch_index``; the noise for such a latent is then the noise
those positions had in the whole batch (see :func:`indexed_noise`), so one picture of a batch can be made
again, or refined, on its own and come out the same.
"""
from __future__ import annotations

import math

import torch

from flux_core.graph.node import Input, Int, Node, Output

from .values import Latent


def indexed_noise(shape: tuple[int, ...], seed: int, batch_index) -> torch.Tensor:
    """Noise for latents that stand at ``batch_index`` of a batch, drawn as ComfyUI's prepare_noise draws it:
    one [1, C, H, W] draw per position 0 .. max(batch_index) from one CPU generator seeded with ``seed``, then
    the draws of the listed positions (repeats allowed), in order. For a 16-channel latent the draws of
    positions 0..n-1 equal one batch draw of n, so a picked picture gets the noise it had in the batch."""
    import operator

    if len(batch_index) != shape[0]:
        raise ValueError(f"{len(batch_index)} batch positions for a batch of {shape[0]}")
    generator = torch.Generator(device="cpu").manual_seed(operator.index(seed))
    draws = [torch.randn((1, *shape[1:]), generator=generator, dtype=torch.float32)
             for _ in range(max(batch_index) + 1)]
    return torch.cat([draws[i] for i in batch_index], dim=0)


class LatentFromBatch(Node):
    """`length` latents of a batch from position `batch_index` on (clamped to the batch, like ComfyUI); their noise
    stays what it was at those positions of the batch."""

    category = "latent"
    inputs = [Input("samples", "LATENT"), Int("batch_index", 0, min=0, max=63), Int("length", 1, min=1, max=64)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, samples: Latent, batch_index: int, length: int):
        batch = samples.batch
        start = min(batch - 1, batch_index)
        length = min(batch - start, length)
        mask = samples.noise_mask
        if mask is not None and mask.shape[0] > 1:
            if mask.shape[0] < batch:
                mask = mask.repeat(math.ceil(batch / mask.shape[0]), 1, 1)[:batch]
            mask = mask[start:start + length].clone()
        positions = (tuple(range(start, start + length)) if samples.batch_index is None
                     else tuple(samples.batch_index[start:start + length]))
        return Latent(samples.samples[start:start + length].clone(), samples.width, samples.height,
                      mask.clone() if mask is not None else None, batch_index=positions)


NODES = [LatentFromBatch]
