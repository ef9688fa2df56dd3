"""What flows along the GUIDER and SAMPLER sockets (ComfyUI's custom-sampling pieces)."""
from __future__ import annotations

from dataclasses import dataclass

from flux_core.graph.types import register_type

from .values import Conditioning, FluxModel

register_type("GUIDER", "#66bb6a", "a model with the prompts that steer it (and the CFG scale)")
register_type("SAMPLER", "#ce93d8", "a sampling method (euler, heun, dpmpp_2m, ...)")


@dataclass(eq=False)
class Guider:
    """GUIDER: the model, the positive prompt and, for classifier-free guidance, the negative and cfg."""

    model: FluxModel
    positive: Conditioning
    negative: Conditioning | None = None
    cfg: float = 1.0

    def cache_bytes(self) -> int:
        return self.positive.cache_bytes() + (self.negative.cache_bytes() if self.negative is not None else 0)


@dataclass(frozen=True)
class SamplerChoice:
    """SAMPLER: which sampling method (a name in flux_core.samplers.SAMPLERS) and, from a sampler node with
    settings (SamplerSASolver), its options as (name, value) pairs for the step rule."""

    name: str = "euler"
    options: tuple = ()
