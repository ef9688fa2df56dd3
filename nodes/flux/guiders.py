"""ComfyUI-style sampling nodes: guiders (plain and classifier-free), the sampler choice, noise
switched off, SamplerCustomAdvanced and the one-node KSampler / KSamplerAdvanced.

They sample exactly as ComfyUI does (flux_core.guided_sampling): the schedule comes from the model's own
sigma table (see sigmas.py), guidance from the conditioning (3.5 for dev when unset, none at all after
FluxDisableGuidance, ignored by schnell), and cfg > 1 runs the negative prompt as real classifier-free
guidance while cfg 1 skips it.
"""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Combo, Float, Input, Int, Node, NodeError, Output
from flux_core.sampling_names import SAMPLER_NAMES, SCHEDULER_NAMES, sampler_problem

from .guider_values import Guider, SamplerChoice
from .preview import latent_preview
from .sampling import DEFAULT_DEV_GUIDANCE, check_compatible, conditioned_model
from .sigmas import model_levels, schedule_problem
from .values import Conditioning, FluxModel, Latent, Noise, Sigmas


class _Prompt:
    """One conditioning's tensors on the model's device, expanded to the batch."""

    def __init__(self, model: FluxModel, cond: Conditioning, latent: Latent, device, dtype, input_name: str):
        import torch

        from flux_core.sampling import txt_ids

        try:
            check_compatible(model, cond.with_guidance(None), latent, odd_sides=True)
        except NodeError as e:
            raise NodeError(str(e), input=input_name if e.input == "conditioning" else e.input) from None
        b = latent.batch
        self.txt = cond.txt.expand(b, -1, -1).to(device, dtype)
        self.vec = cond.vec.expand(b, -1).to(device, dtype)
        self.txt_ids = txt_ids(b, self.txt.shape[1], device).to(dtype)
        self.skip_guidance = bool(cond.guidance_off)
        # control latent, Fill's masked picture, Kontext's references: per prompt, as ComfyUI does
        self.velocity = conditioned_model(model, cond, b, *latent.samples.shape[2:], device, dtype, input_name)
        self.guidance = None
        if model.has_guidance and not cond.guidance_off:
            value = DEFAULT_DEV_GUIDANCE if cond.guidance is None else cond.guidance  # ComfyUI's default for every FLUX
            self.guidance = torch.full((b,), float(value), dtype=dtype, device=device)


def held_noise(sampler: str, noise: Noise, latent: Latent, drawn):
    """The noise that holds the part outside a noise mask at each level: the run's own noise, except for
    ComfyUI's ddim, which draws fresh noise from seed + 1 (its inpaint option "random")."""
    from flux_core.samplers import RANDOM_INPAINT_NOISE
    from flux_core.sampling import MAX_SEED, seeded_noise

    if sampler not in RANDOM_INPAINT_NOISE:
        return drawn
    return seeded_noise(tuple(latent.samples.shape), (noise.seed + 1) % (MAX_SEED + 1))


def sample(ctx, guider: Guider, noise: Noise, sigmas: Sigmas, latent: Latent, preview_vae=None,
           sampler: str = "euler", options: dict | None = None):
    """Run one ComfyUI sampling pass with `sampler`; returns (latent, denoised latent)."""
    from .sampling import _borrow

    model = guider.model
    if latent.channels != model.latent_channels:
        raise NodeError(f"the latent has {latent.channels} channels but {model.name} expects "
                        f"{model.latent_channels}", input="latent_image")
    with _borrow(model, guider.positive, latent, ctx):  # the memory manager places the weights
        return _sample_borrowed(ctx, guider, noise, sigmas, latent, preview_vae, sampler, options)


def _sample_borrowed(ctx, guider: Guider, noise: Noise, sigmas: Sigmas, latent: Latent, preview_vae, sampler,
                     options=None):
    import torch

    from flux_core.guided_sampling import run_sampler, skips_negative
    from flux_core.loading import module_compute_dtype
    from flux_core.patch_padding import crop_to, pad_to_patches, padded_size
    from flux_core.samplers import CFG_PP, StepNoise, draws_noise
    from flux_core.sampling import img_ids, pack, unpack

    model = guider.model
    device = next(model.model.parameters()).device
    dtype = module_compute_dtype(model.model)
    h, w = latent.samples.shape[2], latent.samples.shape[3]
    prompts = [_Prompt(model, guider.positive, latent, device, dtype, "positive")]
    cfg_pp = sampler in CFG_PP  # ComfyUI switches its cfg-1 shortcut off for these: the negative always runs
    if guider.negative is not None and (cfg_pp or not skips_negative(guider.cfg)):
        prompts.append(_Prompt(model, guider.negative, latent, device, dtype, "negative"))
    ph, pw = padded_size(h, w)  # an odd side is padded by one cell around each model call, as ComfyUI does
    ids = img_ids(latent.batch, ph, pw, device).to(dtype)

    def predict(x, sigma, p):
        t = torch.full((latent.batch,), sigma, dtype=dtype, device=device)
        v = p.velocity(img=pack(pad_to_patches(x.to(device, dtype))), img_ids=ids, txt=p.txt, txt_ids=p.txt_ids,
                       y=p.vec, timesteps=t, guidance=p.guidance, skip_guidance=p.skip_guidance)
        return crop_to(unpack(v.float(), ph * 8, pw * 8), h, w).cpu()

    def velocity(x, sigma):
        positive = predict(x, sigma, prompts[0])
        if len(prompts) == 1:
            return positive
        from flux_core.guided_sampling import cfg_velocity

        return cfg_velocity(positive, predict(x, sigma, prompts[1]), guider.cfg)

    def guided(x, sigma):  # for CFG++: the guided velocity and the unconditional estimate (None: no negative)
        from flux_core.guided_sampling import cfg_velocity

        positive = predict(x, sigma, prompts[0])
        if len(prompts) == 1:
            return positive, None
        negative = predict(x, sigma, prompts[1])
        return cfg_velocity(positive, negative, guider.cfg), x - sigma * negative

    values = list(sigmas.values)
    if values:
        ctx.progress(0, len(values) - 1)
    drawn = noise.for_latent(latent)
    if latent.noise_mask is not None and values:  # SetLatentNoiseMask / InpaintModelConditioning
        from flux_core.inpaint import masked_unpacked, masked_unpacked_guided

        held = held_noise(sampler, noise, latent, drawn)
        velocity = masked_unpacked(velocity, latent.samples, held, latent.noise_mask, values, model.differential,
                                   shifted=model.has_guidance)
        guided = masked_unpacked_guided(guided, latent.samples, held, latent.noise_mask, values, model.differential,
                                        shifted=model.has_guidance)

    def after_step(i, n, x, denoised):
        ctx.progress(i + 1, n, latent_preview(denoised, preview_vae, ctx))

    step_noise = None
    if draws_noise(sampler, options):  # ComfyUI seeds a generator on the model's device with the noise seed
        step_noise = StepNoise(noise.seed, tuple(latent.samples.shape), device)
    with torch.inference_mode():
        out, denoised = run_sampler(velocity, drawn, latent.samples, values, after_step, sampler, step_noise,
                                    model_levels(model).mu, guided if cfg_pp else None, options)
    # the rest of the latent (noise mask, batch positions) carries on, as ComfyUI copies the latent dict
    return replace(latent, samples=out.float().cpu()), replace(latent, samples=denoised.float().cpu())


class BasicGuider(Node):
    """Steer the model with one prompt (FLUX's usual way: guidance is in the conditioning)."""

    category = "sampling/custom"
    inputs = [Input("model", "MODEL"), Input("conditioning", "CONDITIONING")]
    outputs = [Output("guider", "GUIDER")]

    def run(self, ctx, model, conditioning):
        return Guider(model, conditioning)


class CFGGuider(Node):
    """Classifier-free guidance: each step also predicts with the negative prompt and moves cfg times
    further from it (two model calls per step); cfg 1 skips the negative as ComfyUI does."""

    category = "sampling/custom"
    inputs = [Input("model", "MODEL"), Input("positive", "CONDITIONING"), Input("negative", "CONDITIONING"),
              Float("cfg", 8.0, min=0.0, max=100.0, step=0.1)]
    outputs = [Output("guider", "GUIDER")]

    def run(self, ctx, model, positive, negative, cfg):
        return Guider(model, positive, negative, cfg)


class KSamplerSelect(Node):
    """Choose the sampling method: ComfyUI's step rules for flow models, all 42 of its names (euler, the
    ancestral and SDE ones, heun(pp2), dpm_2, lms, DPM-Solver(-fast/-adaptive/++), DDPM, LCM, iPNDM, DEIS, RES
    multistep, gradient estimation, ER-SDE, SEEDS, SA-Solver, ddim, UniPC; see docs/comfyui.md)."""

    category = "sampling/custom"
    inputs = [Combo("sampler_name", SAMPLER_NAMES)]
    outputs = [Output("sampler", "SAMPLER")]

    @classmethod
    def check(cls, ctx, sampler_name="euler", **_):
        problem = sampler_problem(sampler_name)
        return [("sampler_name", problem)] if problem else None

    def run(self, ctx, sampler_name):
        return SamplerChoice(sampler_name)


class DisableNoise(Node):
    """No starting noise (zeros): for continuing from a latent that still holds its noise."""

    category = "sampling/custom"
    inputs = []
    outputs = [Output("noise", "NOISE")]

    def run(self, ctx):
        return Noise(0, enabled=False)


class SamplerCustomAdvanced(Node):
    """Sample with a guider along a schedule from noise and a latent. `output` is the result (divided by
    1 - sigma when the schedule stops before 0, so another sampler can continue); `denoised_output` is the
    clean estimate of the last step."""

    category = "sampling/custom"
    inputs = [Input("noise", "NOISE"), Input("guider", "GUIDER"), Input("sampler", "SAMPLER"),
              Input("sigmas", "SIGMAS"), Input("latent_image", "LATENT"),
              Input("preview_vae", "VAE", optional=True, description="decode previews with this autoencoder")]
    outputs = [Output("output", "LATENT"), Output("denoised_output", "LATENT")]

    def run(self, ctx, noise, guider, sampler, sigmas, latent_image, preview_vae=None):
        out, denoised = sample(ctx, guider, noise, sigmas, latent_image, preview_vae, sampler.name,
                               dict(sampler.options))
        return {"output": out, "denoised_output": denoised}



class KSampler(Node):
    """The whole sampling in one node: noise from the seed, the model's schedule for `steps` (the tail of a
    longer one when denoise < 1), the chosen sampler, and classifier-free guidance with the negative when cfg
    is not 1.
    FLUX dev wants cfg 1 (guidance comes from FluxGuidance)."""

    category = "sampling"
    inputs = [Input("model", "MODEL"), Int("seed", 0, min=0, max=2**64 - 1, seed=True),
              Int("steps", 20, min=1, max=10000), Float("cfg", 8.0, min=0.0, max=100.0, step=0.1),
              Combo("sampler_name", SAMPLER_NAMES), Combo("scheduler", SCHEDULER_NAMES),
              Input("positive", "CONDITIONING"), Input("negative", "CONDITIONING"), Input("latent_image", "LATENT"),
              Float("denoise", 1.0, min=0.0, max=1.0, step=0.01)]
    outputs = [Output("latent", "LATENT")]

    @classmethod
    def check(cls, ctx, steps=1, scheduler="simple", sampler_name="euler", **_):
        problems = [("steps", schedule_problem(scheduler, steps)), ("sampler_name", sampler_problem(sampler_name))]
        return [(name, problem) for name, problem in problems if problem] or None

    def run(self, ctx, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
            denoise):
        from flux_core.schedulers import ksampler_schedule

        sigmas = Sigmas(tuple(ksampler_schedule(model_levels(model), scheduler, steps, denoise, sampler_name)))
        out, _ = sample(ctx, Guider(model, positive, negative, cfg), Noise(seed), sigmas, latent_image,
                        sampler=sampler_name)
        return out


class KSamplerAdvanced(Node):
    """KSampler over part of the schedule: steps start_at_step..end_at_step of `steps`; optionally without
    adding noise and returning the latent with its leftover noise (for a second sampler to finish)."""

    category = "sampling"
    inputs = [Input("model", "MODEL"), Combo("add_noise", ["enable", "disable"]),
              Int("noise_seed", 0, min=0, max=2**64 - 1, seed=True),
              Int("steps", 20, min=1, max=10000), Float("cfg", 8.0, min=0.0, max=100.0, step=0.1),
              Combo("sampler_name", SAMPLER_NAMES), Combo("scheduler", SCHEDULER_NAMES),
              Input("positive", "CONDITIONING"), Input("negative", "CONDITIONING"), Input("latent_image", "LATENT"),
              Int("start_at_step", 0, min=0, max=10000), Int("end_at_step", 10000, min=0, max=10000),
              Combo("return_with_leftover_noise", ["disable", "enable"])]
    outputs = [Output("latent", "LATENT")]

    @classmethod
    def check(cls, ctx, steps=1, scheduler="simple", sampler_name="euler", **_):
        problems = [("steps", schedule_problem(scheduler, steps)), ("sampler_name", sampler_problem(sampler_name))]
        return [(name, problem) for name, problem in problems if problem] or None

    def run(self, ctx, model, add_noise, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
            latent_image, start_at_step, end_at_step, return_with_leftover_noise):
        from flux_core.schedulers import ksampler_schedule

        values = ksampler_schedule(model_levels(model), scheduler, steps, 1.0, sampler_name)
        if end_at_step < len(values) - 1:
            values = values[:end_at_step + 1]
            if return_with_leftover_noise != "enable":
                values[-1] = 0.0
        if start_at_step >= len(values) - 1:
            return latent_image
        values = values[start_at_step:]
        noise = Noise(noise_seed, enabled=add_noise == "enable")
        out, _ = sample(ctx, Guider(model, positive, negative, cfg), noise, Sigmas(tuple(values)), latent_image,
                        sampler=sampler_name)
        return out


NODES = [BasicGuider, CFGGuider, KSamplerSelect, DisableNoise, SamplerCustomAdvanced, KSampler, KSamplerAdvanced]
