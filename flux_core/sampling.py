"""FLUX.1 sampling math (flux-spec §3): noise, packing, position ids, schedules, Euler steps, img2img.

Pure functions on tensors; no model loading, no UI. Sizes named ``height``/``width`` are pixels,
``h``/``w`` are latent cells (pixels / 8).
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import torch
from torch import Tensor

LATENT_CHANNELS = 16
MAX_SEED = 2**64 - 1


# ---------------------------------------------------------------------------------------------
# noise


def latent_size(height: int, width: int) -> tuple[int, int]:
    """Latent (h, w) for a pixel size: 2 * ceil(side / 16), so the 2x2 packing always fits."""
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    return 2 * math.ceil(height / 16), 2 * math.ceil(width / 16)


def get_noise(
    num_samples: int,
    height: int,
    width: int,
    seed: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Initial latent noise [B, 16, 2*ceil(height/16), 2*ceil(width/16)] for a seed.

    Drawn in one call, in float32, from a CPU generator seeded with ``seed``, then cast and moved:
    the same numbers ComfyUI (``torch.manual_seed`` + CPU ``randn``), diffusers (``randn_tensor``
    with a CPU generator) and BFL (CPU generator, bf16 draw == float32 draw cast to bf16) produce
    for a size that is a multiple of 16. Seeds 0 .. 2**64-1 are accepted like ComfyUI; torch's CPU
    generator uses only the low 32 bits of the seed, so seeds that differ by a multiple of 2**32
    give identical noise (in ComfyUI as well).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    h, w = latent_size(height, width)
    return seeded_noise((num_samples, LATENT_CHANNELS, h, w), seed, dtype=dtype, device=device)


def seeded_noise(
    shape: tuple[int, ...],
    seed: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Standard normal noise of any shape for a seed, drawn as :func:`get_noise` draws it.

    Use this for ComfyUI latents whose side is a multiple of 8 but not 16 (ComfyUI draws
    [B, 16, H//8, W//8] and pads later), so the numbers still match ComfyUI's.
    """
    if isinstance(seed, bool) or not hasattr(seed, "__index__") or not 0 <= operator.index(seed) <= MAX_SEED:
        raise ValueError(f"seed must be an integer in 0 .. 2**64-1, got {seed!r}")
    generator = torch.Generator(device="cpu").manual_seed(operator.index(seed))
    noise = torch.randn(tuple(shape), generator=generator, dtype=torch.float32, device="cpu")
    return noise.to(device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# packing and position ids


def pack(x: Tensor) -> Tensor:
    """Latent [B, C, h, w] -> tokens [B, (h/2)(w/2), 4C]; feature index = c*4 + row*2 + col of the 2x2 patch."""
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"latent height and width must be even to pack 2x2 patches, got {h}x{w}")
    x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(x: Tensor, height: int, width: int) -> Tensor:
    """Tokens [B, N, 4C] -> latent [B, C, 2*ceil(height/16), 2*ceil(width/16)] for a pixel size."""
    h, w = latent_size(height, width)
    b, n, f = x.shape
    if n != (h // 2) * (w // 2) or f % 4:
        raise ValueError(f"{n} tokens of {f} features do not unpack to a {width}x{height} px image")
    x = x.reshape(b, h // 2, w // 2, f // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, f // 4, h, w)


def img_ids(batch: int, h: int, w: int, device: torch.device | str = "cpu") -> Tensor:
    """Position ids [B, (h/2)(w/2), 3] of packed image tokens for a latent of h x w cells: (0, row, col)."""
    if h % 2 or w % 2:
        raise ValueError(f"latent height and width must be even, got {h}x{w}")
    ids = torch.zeros(h // 2, w // 2, 3, dtype=torch.float32, device=device)
    ids[..., 1] = torch.arange(h // 2, dtype=torch.float32, device=device)[:, None]
    ids[..., 2] = torch.arange(w // 2, dtype=torch.float32, device=device)[None, :]
    return ids.reshape(1, -1, 3).repeat(batch, 1, 1)


def txt_ids(batch: int, length: int, device: torch.device | str = "cpu") -> Tensor:
    """Position ids of text tokens: all zeros [B, length, 3]."""
    return torch.zeros(batch, length, 3, dtype=torch.float32, device=device)


def image_seq_len(height: int, width: int) -> int:
    """Number of packed image tokens for a pixel size (drives the schedule shift)."""
    h, w = latent_size(height, width)
    return (h // 2) * (w // 2)


# ---------------------------------------------------------------------------------------------
# schedules


def time_shift(mu: float, sigma: float, t: Tensor) -> Tensor:
    """Resolution shift e^mu / (e^mu + (1/t - 1)^sigma); keeps 0 -> 0 and 1 -> 1."""
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)


def get_lin_function(
    x1: float = 256, y1: float = 0.5, x2: float = 4096, y2: float = 1.15
) -> Callable[[float], float]:
    """The straight line through (x1, y1) and (x2, y2), not clamped: image_seq_len -> mu."""
    m = (y2 - y1) / (x2 - x1)
    b = y1 - m * x1
    return lambda x: m * x + b


def get_schedule(
    num_steps: int,
    image_seq_len: int,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
    shift: bool = True,
) -> list[float]:
    """num_steps + 1 times from 1 to 0 (BFL): linear, then resolution-shifted when ``shift`` (dev)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    timesteps = torch.linspace(1, 0, num_steps + 1)
    if shift:
        mu = get_lin_function(y1=base_shift, y2=max_shift)(image_seq_len)
        timesteps = time_shift(mu, 1.0, timesteps)
    return timesteps.tolist()


def comfy_simple_schedule(
    num_steps: int,
    image_seq_len: int,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
    shift: bool = True,
    mu: float | None = None,
) -> list[float]:
    """ComfyUI's "simple" scheduler for FLUX: picks from its table of sigmas, then appends 0.

    The table has 10000 shifted entries at t = i/10000 (dev, ModelSamplingFlux) or 1000 identity
    entries (schnell, shift 1); step k takes entry -(1 + int(k * len / steps)), so t is 1 - k/steps
    rounded down to the table grid (equal to :func:`get_schedule` when steps divides the table size).
    ``mu`` overrides the resolution-derived shift (ComfyUI uses 1.15 for a dev model without a
    ModelSamplingFlux node, whatever the image size).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    size = 10000 if shift else 1000
    table = torch.arange(1, size + 1, 1) / size
    if shift:
        if mu is None:
            mu = get_lin_function(y1=base_shift, y2=max_shift)(image_seq_len)
        table = time_shift(mu, 1.0, table)
    stride = len(table) / num_steps
    return [float(table[-(1 + int(k * stride))]) for k in range(num_steps)] + [0.0]


MAX_SCHEDULE_LENGTH = 100_000  # steps / denoise: a tiny denoise would otherwise build billions of levels


def denoise_schedule_problem(num_steps: int, denoise: float) -> str | None:
    """Why `steps` with `denoise` cannot be scheduled (the longer schedule it keeps the tail of is too long)."""
    if 0.0 < denoise < 1.0 and num_steps / denoise > MAX_SCHEDULE_LENGTH:
        return (f"denoise {denoise:g} with {num_steps} steps needs a {num_steps / denoise:,.0f}-level schedule "
                f"(at most {MAX_SCHEDULE_LENGTH:,}); raise denoise to at least {num_steps / MAX_SCHEDULE_LENGTH:g} "
                f"or use 0 to keep the latent as it is")
    return None


def schedule_for_denoise(
    num_steps: int,
    image_seq_len: int,
    denoise: float = 1.0,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
    shift: bool = True,
    mu: float | None = None,
) -> list[float]:
    """ComfyUI BasicScheduler("simple", steps, denoise): for denoise < 1, build int(steps / denoise)
    steps and keep the last steps + 1 values; denoise 0 gives an empty schedule (nothing to do)."""
    if not 0.0 <= denoise <= 1.0:
        raise ValueError(f"denoise must be in [0, 1], got {denoise}")
    if denoise == 0.0:
        return []
    problem = denoise_schedule_problem(num_steps, denoise)
    if problem:
        raise ValueError(problem)
    total = num_steps if denoise >= 1.0 else int(num_steps / denoise)
    sigmas = comfy_simple_schedule(total, image_seq_len, base_shift, max_shift, shift, mu)
    return sigmas[-(num_steps + 1):]


# ---------------------------------------------------------------------------------------------
# sampling


def euler_step(x: Tensor, velocity: Tensor, t_curr: float, t_prev: float) -> Tensor:
    """One flow-matching Euler step x + (t_prev - t_curr) * v, in float32, returned in x's dtype."""
    return (x.float() + (t_prev - t_curr) * velocity.float()).to(x.dtype)


def predicted_x0(x: Tensor, velocity: Tensor, t: float) -> Tensor:
    """The clean-latent estimate implied by a velocity: x - t * v (for previews)."""
    return (x.float() - t * velocity.float()).to(x.dtype)


def denoise(
    model,
    img: Tensor,
    img_ids: Tensor,
    txt: Tensor,
    txt_ids: Tensor,
    vec: Tensor,
    timesteps: list[float],
    guidance: float | None = None,
    callback: Callable[[int, int, Tensor, Tensor], None] | None = None,
) -> Tensor:
    """Integrate packed latents ``img`` along ``timesteps`` with one model call per step.

    ``guidance`` is the raw distilled-guidance value (e.g. 3.5) for dev models; ``callback(i, n, x,
    pred_x0)`` runs after step i of n (exceptions propagate, which is how callers interrupt).
    Model inputs are built in img's dtype, as in the reference.
    """
    batch = img.shape[0]
    guidance_vec = None
    if guidance is not None:
        guidance_vec = torch.full((batch,), float(guidance), dtype=img.dtype, device=img.device)
    num_steps = len(timesteps) - 1
    for i, (t_curr, t_prev) in enumerate(zip(timesteps[:-1], timesteps[1:])):
        t_vec = torch.full((batch,), t_curr, dtype=img.dtype, device=img.device)
        velocity = model(
            img=img, img_ids=img_ids, txt=txt, txt_ids=txt_ids, y=vec, timesteps=t_vec, guidance=guidance_vec
        )
        x0 = predicted_x0(img, velocity, t_curr) if callback is not None else None
        img = euler_step(img, velocity, t_curr, t_prev)
        if callback is not None:
            callback(i, num_steps, img, x0)
    return img


def img2img_start_index(num_steps: int, strength: float) -> int:
    """First schedule index for an img2img strength in [0, 1]: int(steps - steps * strength).

    This is diffusers' rounding, so strength * steps model calls are run (strength 0.8 of 20 steps
    runs 16). BFL's demo computes int((1 - strength) * steps), which float error floors one lower
    in some cases (0.8 of 20 -> index 3, 17 calls).
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return int(max(num_steps - num_steps * strength, 0))


def img2img_start(x0: Tensor, noise: Tensor, t: float) -> Tensor:
    """Noised start point (1 - t) * x0 + t * noise for a clean latent x0 at schedule time t."""
    return ((1.0 - t) * x0.float() + t * noise.float()).to(x0.dtype)
