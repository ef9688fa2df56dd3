"""Latent nodes: empty latents, seeded noise, and the noised start of a schedule."""
from __future__ import annotations

from flux_core.graph.node import Input, Int, Node, NodeError, Output

from .values import Latent, Noise, Sigmas

LATENT_CHANNELS = 16


class EmptyLatent(Node):
    """An all-zero latent batch for a picture size (multiples of 8 pixels; FLUX's 2x2 patches make 16 the
    natural step, other sizes are padded around each model call as ComfyUI does)."""

    category = "latent"
    inputs = [Int("width", 1024, min=16, max=8192, step=8), Int("height", 1024, min=16, max=8192, step=8),
              Int("batch_size", 1, min=1, max=64)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, width, height, batch_size):
        import torch

        samples = torch.zeros(batch_size, LATENT_CHANNELS, height // 8, width // 8)
        return Latent(samples, width, height)


class RandomNoise(Node):
    """A seed for the starting noise: the same noise as ComfyUI's RandomNoise for the same seed and size."""

    category = "latent"
    inputs = [Int("seed", 0, min=0, max=2**64 - 1, seed=True)]
    outputs = [Output("noise", "NOISE")]

    def run(self, ctx, seed):
        return Noise(seed)


class NoisyLatent(Node):
    """The latent at the first noise level of a schedule: pure noise for a full schedule, the input
    latent partly noised for img2img. Feed it to the first SamplerStep."""

    category = "sampling"
    inputs = [Input("latent", "LATENT"), Input("noise", "NOISE"), Input("sigmas", "SIGMAS")]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, latent, noise, sigmas):
        from flux_core.sampling import img2img_start

        if not sigmas.values:
            raise NodeError("the schedule is empty (denoise 0): there is no noise level to start from",
                            input="sigmas")
        start = img2img_start(latent.samples, noise.for_latent(latent), sigmas.values[0])
        return Latent(start, latent.width, latent.height)


NODES = [EmptyLatent, RandomNoise, NoisyLatent]
