"""Schedules from the model's own sigma table (ComfyUI's way) and the nodes that edit schedules.

ComfyUI gives every model a table of noise levels: FLUX dev 10,000 levels shifted with mu 1.15 whatever
the picture size, schnell 1,000 unshifted levels; ModelSamplingFlux replaces the table by one shifted for
a given width and height. The schedulers (flux_core.schedulers: simple, normal, karras, beta, ...) pick
levels from that table.
(fluxwire's own Scheduler node instead derives the shift from the latent's size, as BFL does.)
"""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Combo, Float, Input, Int, Node, NodeError, Output
from flux_core.sampling_names import SCHEDULER_NAMES

from .values import FluxModel, Sigmas

DEV_SHIFT = 1.15  # ComfyUI's ModelSamplingFlux default for a dev model


def flux_shift(max_shift: float, base_shift: float, width: int, height: int) -> float:
    """mu for a picture size: the line through (256 patches, base_shift) and (4096, max_shift)."""
    slope = (max_shift - base_shift) / (4096 - 256)
    return (width * height / (8 * 8 * 2 * 2)) * slope + (base_shift - slope * 256)


def model_levels(model: FluxModel):
    """The model's noise-level table as ComfyUI holds it (ModelSamplingFlux's shift, else the default)."""
    from flux_core.schedulers import NoiseLevels

    if model.shift is not None:
        return NoiseLevels(model.shift)
    return NoiseLevels(DEV_SHIFT if model.has_guidance else None)


def model_sigmas(model: FluxModel, steps: int, denoise: float, scheduler: str = "simple") -> list[float]:
    """BasicScheduler's levels from the model's table; denoise < 1 keeps the tail of a longer schedule."""
    from flux_core.schedulers import basic_schedule

    return basic_schedule(model_levels(model), scheduler, steps, denoise)


def schedule_problem(scheduler: str, steps: int) -> str | None:
    """Why a scheduler cannot make `steps` steps (checked before the run)."""
    if scheduler == "kl_optimal" and steps < 2:
        return "the kl_optimal scheduler needs at least 2 steps"
    return None


class ModelSamplingFlux(Node):
    """Shift the model's noise levels for a picture size (more steps at high noise for larger pictures);
    schedules made from this model (BasicScheduler, KSampler) use it."""

    category = "sampling/schedule"
    inputs = [Input("model", "MODEL"), Float("max_shift", 1.15, min=0.0, max=100.0, step=0.01),
              Float("base_shift", 0.5, min=0.0, max=100.0, step=0.01),
              Int("width", 1024, min=16, max=16384, step=8), Int("height", 1024, min=16, max=16384, step=8)]
    outputs = [Output("model", "MODEL")]

    def run(self, ctx, model, max_shift, base_shift, width, height):
        return replace(model, shift=flux_shift(max_shift, base_shift, width, height))


class BasicScheduler(Node):
    """Noise levels for `steps` steps from the model's own table (ComfyUI's schedule; independent of the
    picture size unless ModelSamplingFlux shifted the model); denoise < 1 keeps the tail for img2img."""

    category = "sampling/schedule"
    inputs = [Input("model", "MODEL"), Combo("scheduler", SCHEDULER_NAMES), Int("steps", 20, min=1, max=10000),
              Float("denoise", 1.0, min=0.0, max=1.0, step=0.01)]
    outputs = [Output("sigmas", "SIGMAS")]

    @classmethod
    def check(cls, ctx, steps=1, denoise=1.0, scheduler="simple", **_):
        from flux_core.sampling import denoise_schedule_problem

        problems = []
        if problem := denoise_schedule_problem(steps, denoise):
            problems.append(("denoise", problem))
        if problem := schedule_problem(scheduler, steps):
            problems.append(("steps", problem))
        return problems or None

    def run(self, ctx, model, scheduler, steps, denoise):
        return Sigmas(tuple(model_sigmas(model, steps, denoise, scheduler)))


class SetFirstSigma(Node):
    """Replace the first noise level of a schedule (e.g. start an img2img pass at a chosen level)."""

    category = "sampling/schedule"
    inputs = [Input("sigmas", "SIGMAS"), Float("sigma", 136.0, min=0.0, max=20000.0, step=0.001)]
    outputs = [Output("sigmas", "SIGMAS")]

    def run(self, ctx, sigmas, sigma):
        from flux_core.guided_sampling import float32

        if not sigmas.values:
            raise NodeError("the schedule is empty: there is no first level to set", input="sigmas")
        return Sigmas((float32(sigma),) + tuple(sigmas.values[1:]))


class SplitSigmas(Node):
    """Cut a schedule at `step`: levels 0..step for a first sampler, step..end for a second."""

    category = "sampling/schedule"
    inputs = [Input("sigmas", "SIGMAS"), Int("step", 0, min=0, max=10000)]
    outputs = [Output("high_sigmas", "SIGMAS"), Output("low_sigmas", "SIGMAS")]

    def run(self, ctx, sigmas, step):
        return {"high_sigmas": Sigmas(sigmas.values[:step + 1]), "low_sigmas": Sigmas(sigmas.values[step:])}


NODES = [ModelSamplingFlux, BasicScheduler, SetFirstSigma, SplitSigmas]
