"""Sampling nodes: the schedule, one Euler step, and the whole sampler with progress and previews."""
from __future__ import annotations

from flux_core.node import Combo, Float, Input, Int, Node, NodeError, Output

from .preview import latent_preview
from .values import Conditioning, FluxModel, Latent, Sigmas

DEFAULT_DEV_GUIDANCE = 3.5  # what ComfyUI uses for dev when no FluxGuidance node set one


class Scheduler(Node):
    """Noise levels for `steps` steps (ComfyUI's "simple" schedule). The resolution-dependent shift is on
    for dev and off for schnell unless chosen; denoise < 1 keeps the tail of a longer schedule (img2img)."""

    category = "sampling"
    inputs = [Input("model", "MODEL"), Input("latent", "LATENT"),
              Int("steps", 4, min=1, max=10000), Float("denoise", 1.0, min=0.0, max=1.0, step=0.01),
              Combo("shift", ["auto", "on", "off"]),
              Float("base_shift", 0.5, min=0.0, max=100.0, step=0.01),
              Float("max_shift", 1.15, min=0.0, max=100.0, step=0.01)]
    outputs = [Output("sigmas", "SIGMAS")]

    @classmethod
    def check(cls, ctx, steps=1, denoise=1.0, **_):
        from flux_core.sampling import denoise_schedule_problem

        problem = denoise_schedule_problem(steps, denoise)
        return [("denoise", problem)] if problem else None

    def run(self, ctx, model, latent, steps, denoise, shift, base_shift, max_shift):
        from flux_core.sampling import image_seq_len, schedule_for_denoise

        shifted = model.has_guidance if shift == "auto" else shift == "on"
        values = schedule_for_denoise(steps, image_seq_len(latent.height, latent.width), denoise, base_shift,
                                      max_shift, shifted)
        return Sigmas(tuple(float(v) for v in values))


def check_compatible(model: FluxModel, conditioning: Conditioning, latent: Latent) -> None:
    """Refuse combinations that would fail inside torch, naming the input at fault."""
    p = model.params
    if latent.channels != model.latent_channels:
        raise NodeError(f"the latent has {latent.channels} channels but {model.name} expects "
                        f"{model.latent_channels}", input="latent")
    if latent.height % 16 or latent.width % 16:
        raise NodeError(f"the latent is {latent.width}x{latent.height} pixels; FLUX needs multiples of 16",
                        input="latent")
    if conditioning.txt.shape[-1] != p.context_in_dim:
        raise NodeError(f"the text encoder gives {conditioning.txt.shape[-1]}-wide T5 features but "
                        f"{model.name} expects {p.context_in_dim}: the encoders belong to another model",
                        input="conditioning")
    if conditioning.vec.shape[-1] != p.vec_in_dim:
        raise NodeError(f"the text encoder gives a {conditioning.vec.shape[-1]}-wide CLIP vector but "
                        f"{model.name} expects {p.vec_in_dim}", input="conditioning")
    if conditioning.guidance is not None and not model.has_guidance:
        raise NodeError(f"the conditioning sets guidance {conditioning.guidance}, but {model.name} is a "
                        f"schnell-type model without a guidance embedding; remove the FluxGuidance node",
                        input="conditioning")


class _Run:
    """The tensors one sampling run needs, on the model's device and dtype."""

    def __init__(self, model: FluxModel, conditioning: Conditioning, latent: Latent, ctx):
        import torch

        from flux_core.loading import module_compute_dtype
        from flux_core.sampling import img_ids, txt_ids

        check_compatible(model, conditioning, latent)
        self.model, self.latent = model, latent
        self.device = next(model.model.parameters()).device
        self.dtype = module_compute_dtype(model.model)
        b = latent.batch
        h, w = latent.samples.shape[2], latent.samples.shape[3]
        self.txt = conditioning.txt.expand(b, -1, -1).to(self.device, self.dtype)
        self.vec = conditioning.vec.expand(b, -1).to(self.device, self.dtype)
        self.img_ids = img_ids(b, h, w, self.device).to(self.dtype)
        self.txt_ids = txt_ids(b, self.txt.shape[1], self.device).to(self.dtype)
        self.guidance = None
        if model.has_guidance:
            self.guidance = DEFAULT_DEV_GUIDANCE if conditioning.guidance is None else conditioning.guidance
        self.torch = torch

    def pack(self, samples):
        from flux_core.sampling import pack

        return pack(samples.to(self.device, self.dtype))

    def unpack(self, img) -> Latent:
        from flux_core.sampling import unpack

        x = unpack(img.float(), self.latent.height, self.latent.width).cpu()
        return Latent(x, self.latent.width, self.latent.height)

    def denoise(self, img, timesteps, callback=None):
        from flux_core.sampling import denoise

        with self.torch.inference_mode():
            return denoise(self.model.model, img, self.img_ids, self.txt, self.txt_ids, self.vec, list(timesteps),
                           guidance=self.guidance, callback=callback)


def _borrow(model: FluxModel, conditioning: Conditioning, latent: Latent, ctx):
    """Borrow the transformer, after telling the memory manager the activations this run needs."""
    from flux_core.memory import activation_reserve, borrow, manager_for

    p = model.params
    manager_for(ctx).set_activation_reserve(activation_reserve(
        latent.width, latent.height, latent.batch, conditioning.txt.shape[1], p.hidden_size, p.mlp_ratio))
    return borrow(model.model, ctx=ctx)


class SamplerStep(Node):
    """Exactly one Euler step, from noise level `step` of the schedule to the next: chain several and look
    at the latent between them. The input latent is the one at level `step` (NoisyLatent gives level 0)."""

    category = "sampling"
    inputs = [Input("model", "MODEL"), Input("conditioning", "CONDITIONING"), Input("latent", "LATENT"),
              Input("sigmas", "SIGMAS"), Int("step", 0, min=0, max=9999)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, model, conditioning, latent, sigmas, step):
        if step >= sigmas.steps:
            raise NodeError(f"step {step} is past the end of a {sigmas.steps}-step schedule (steps count from 0)",
                            input="step")
        with _borrow(model, conditioning, latent, ctx):
            run = _Run(model, conditioning, latent, ctx)
            img = run.denoise(run.pack(latent.samples), sigmas.values[step:step + 2])
        return run.unpack(img)


class Sampler(Node):
    """The whole sampling loop: start from the noise (partly, for img2img), then one Euler step per
    noise level. Reports progress with a small preview of the current estimate; can be stopped between steps."""

    category = "sampling"
    inputs = [Input("model", "MODEL"), Input("conditioning", "CONDITIONING"), Input("noise", "NOISE"),
              Input("sigmas", "SIGMAS"), Input("latent", "LATENT"),
              Input("preview_vae", "VAE", optional=True,
                    description="decode previews with this autoencoder (slower, truer colours)")]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, model, conditioning, noise, sigmas, latent, preview_vae=None):
        from flux_core.sampling import img2img_start

        if not sigmas.values or sigmas.steps == 0:
            return latent
        with _borrow(model, conditioning, latent, ctx):
            run = _Run(model, conditioning, latent, ctx)
            start = img2img_start(latent.samples, noise.for_latent(latent), sigmas.values[0])
            ctx.progress(0, sigmas.steps)

            def after_step(i, n, x, x0):
                preview = latent_preview(run.unpack(x0).samples, preview_vae, ctx)
                ctx.progress(i + 1, n, preview)  # raises Interrupted when the run was stopped

            img = run.denoise(run.pack(start), sigmas.values, callback=after_step)
        return run.unpack(img)


NODES = [Scheduler, SamplerStep, Sampler]
