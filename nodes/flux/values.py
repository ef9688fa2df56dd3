"""What flows along the FLUX sockets. Each value carries what the next node needs to check its inputs
(sizes, widths, whether guidance is set), so a wrong combination is reported by name, not as a shape
error deep inside torch.

LATENT samples are in the model's latent space (the autoencoder's scaled/shifted posterior mean), kept
on the CPU in float32 between nodes; IMAGE is a float32 CPU tensor [B, H, W, 3] in 0..1 (ComfyUI's layout).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from flux_core.graph.cache import estimate_bytes
from flux_core.graph.node import register_output_check


def _module_bytes(*modules) -> int:
    return sum(estimate_bytes(m) for m in modules)


@dataclass(eq=False)
class FluxModel:
    """MODEL: a loaded FLUX transformer and the name it was loaded from."""

    model: torch.nn.Module
    name: str
    shift: float | None = None  # ComfyUI's ModelSamplingFlux: the schedule's shift (mu); None = the model's own
    differential: float = 0.0  # DifferentialDiffusion strength for soft noise masks (0 = off)
    kontext: bool = False  # a Kontext model (same shapes as dev): guidance 2.5 by default

    @property
    def params(self):
        return self.model.params

    @property
    def has_guidance(self) -> bool:
        return bool(self.model.params.guidance_embed)

    @property
    def variant(self) -> str:
        return "dev" if self.has_guidance else "schnell"

    @property
    def latent_channels(self) -> int:
        return self.model.params.out_channels // 4

    @property
    def is_fill(self) -> bool:
        """FLUX.1 Fill: img_in also reads the masked picture's latent and the 8x8-packed mask."""
        p = self.model.params
        return p.in_channels == 2 * p.out_channels + 256

    @property
    def control_kind(self) -> str | None:
        """"canny", "depth" or "control" for FLUX.1 Canny/Depth models (img_in also reads the control
        picture's latent), None otherwise."""
        from flux_core.loading.detect import control_kind

        return control_kind(vars(self.model.params), self.name)

    def cache_bytes(self) -> int:
        return _module_bytes(self.model)


@dataclass(eq=False)
class TextEncoders:
    """TEXT_ENCODER: T5 + CLIP with their tokenizers (flux_core's TextConditioner)."""

    conditioner: object
    name: str

    @property
    def t5_width(self) -> int:
        return self.conditioner.t5.config.d_model

    @property
    def clip_width(self) -> int:
        return self.conditioner.clip.config.hidden_size

    def cache_bytes(self) -> int:
        return _module_bytes(self.conditioner.t5, self.conditioner.clip)


@dataclass(eq=False)
class Vae:
    """VAE: the FLUX autoencoder."""

    ae: torch.nn.Module
    name: str

    @property
    def latent_channels(self) -> int:
        return self.ae.params.z_channels

    def cache_bytes(self) -> int:
        return _module_bytes(self.ae)


@dataclass(eq=False)
class Conditioning:
    """CONDITIONING: T5 sequence [1, L, d], CLIP pooled vector [1, d'], and the distilled guidance (dev)."""

    txt: torch.Tensor
    vec: torch.Tensor
    guidance: float | None = None
    prompt: str = ""
    guidance_off: bool = False  # FluxDisableGuidance: a dev model runs without its guidance embedding
    fill_latent: torch.Tensor | None = None  # FLUX.1 Fill: latent of the masked picture [B, C, h, w]
    fill_mask: torch.Tensor | None = None  # FLUX.1 Fill: binary pixel mask [B, H, W], 1 = paint
    references: tuple = ()  # FLUX.1 Kontext: reference latents [1, C, h, w], in order
    reference_method: str = "offset"  # how several references are placed (flux_core.kontext.METHODS)
    control_latent: torch.Tensor | None = None  # FLUX.1 Canny/Depth: latent of the control picture [B, C, h, w]

    def with_guidance(self, guidance: float | None) -> "Conditioning":
        return replace(self, guidance=guidance)

    def cache_bytes(self) -> int:
        extra = [t for t in (self.fill_latent, self.fill_mask, self.control_latent, *self.references) if t is not None]
        return estimate_bytes(self.txt) + estimate_bytes(self.vec) + sum(estimate_bytes(t) for t in extra)


@dataclass(eq=False)
class Latent:
    """LATENT: model-space latents [B, C, H/8, W/8] and the pixel size they stand for."""

    samples: torch.Tensor
    width: int
    height: int
    noise_mask: torch.Tensor | None = None  # pixel mask [B|1, H, W] (any size, fitted when sampling): 1 = repaint
    batch_index: tuple[int, ...] | None = None  # positions in the batch they were picked from (LatentFromBatch)

    @property
    def batch(self) -> int:
        return self.samples.shape[0]

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def cache_bytes(self) -> int:
        return estimate_bytes(self.samples)


@dataclass(frozen=True)
class Noise:
    """NOISE: a seed; the noise itself is drawn for the latent it is applied to (its size and batch).
    ``enabled`` False is ComfyUI's DisableNoise: zeros of the latent's shape."""

    seed: int
    enabled: bool = True

    def for_latent(self, latent: Latent) -> torch.Tensor:
        """[B, 16, H/8, W/8] float32 on the CPU, drawn in one call like ComfyUI's prepare_noise."""
        from flux_core.sampling import seeded_noise

        if not self.enabled:
            return torch.zeros(tuple(latent.samples.shape), dtype=torch.float32)
        if latent.batch_index is not None:  # pictures picked from a batch keep the batch's noise
            from .batch import indexed_noise

            return indexed_noise(tuple(latent.samples.shape), self.seed, latent.batch_index)
        return seeded_noise(tuple(latent.samples.shape), self.seed)


@dataclass(frozen=True)
class Sigmas:
    """SIGMAS: the noise levels of a schedule, from the start level down to 0."""

    values: tuple[float, ...]

    @property
    def steps(self) -> int:
        return max(len(self.values) - 1, 0)


# What each FLUX socket may carry: checked after every node runs, so a plugin returning the wrong thing is
# blamed itself instead of the next node (see flux_core.graph.node.register_output_check).
for _type, _cls in (("MODEL", FluxModel), ("TEXT_ENCODER", TextEncoders), ("VAE", Vae),
                    ("CONDITIONING", Conditioning), ("LATENT", Latent), ("NOISE", Noise), ("SIGMAS", Sigmas)):
    register_output_check(_type, lambda v, c=_cls: isinstance(v, c), f"a {_cls.__module__}.{_cls.__name__}")
