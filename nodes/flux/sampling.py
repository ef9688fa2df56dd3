"""Sampling nodes: the schedule, one Euler step, and the whole sampler with progress and previews."""
from __future__ import annotations

from flux_core.graph.node import Combo, Float, Input, Int, Node, NodeError, Output

from .preview import latent_preview
from .values import Conditioning, FluxModel, Latent, Sigmas

DEFAULT_DEV_GUIDANCE = 3.5  # what ComfyUI uses for dev when no FluxGuidance node set one
DEFAULT_KONTEXT_GUIDANCE = 2.5  # FLUX.1 Kontext dev's usual value (BFL, diffusers)
DEFAULT_FILL_GUIDANCE = 30.0  # FLUX.1 Fill dev's usual value (BFL's demo, diffusers' FluxFillPipeline)


def default_guidance(model: FluxModel) -> float:
    """fluxwire's guidance when no FluxGuidance node set one: what each FLUX.1 model was made for (dev 3.5,
    Fill 30, Kontext 2.5, Canny 30, Depth 10). The ComfyUI-style samplers keep ComfyUI's 3.5 for all."""
    from flux_core.control import CONTROL_GUIDANCE

    if model.is_fill:
        return DEFAULT_FILL_GUIDANCE
    if model.kontext:
        return DEFAULT_KONTEXT_GUIDANCE
    return CONTROL_GUIDANCE.get(model.control_kind, DEFAULT_DEV_GUIDANCE)


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


def check_compatible(model: FluxModel, conditioning: Conditioning, latent: Latent, odd_sides: bool = False) -> None:
    """Refuse combinations that would fail inside torch, naming the input at fault. ``odd_sides``: the
    caller pads odd latent sides (pictures a multiple of 8 but not 16 pixels) as ComfyUI does."""
    p = model.params
    if latent.channels != model.latent_channels:
        raise NodeError(f"the latent has {latent.channels} channels but {model.name} expects "
                        f"{model.latent_channels}", input="latent")
    side = 8 if odd_sides else 16
    if latent.height % side or latent.width % side:
        raise NodeError(f"the latent is {latent.width}x{latent.height} pixels; FLUX needs multiples of {side}",
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


def conditioned_model(model: FluxModel, conditioning: Conditioning, batch: int, h: int, w: int, device, dtype,
                      input_name: str = "conditioning"):
    """The velocity model the sampling loop calls: the transformer, with the Canny/Depth control latent or
    FLUX.1 Fill's masked picture concatenated to every token and Kontext's reference tokens appended, as
    the conditioning asks. Problems name `input_name` (the conditioning input of the calling node)."""
    from flux_core.control import ChannelConcatVelocity
    from flux_core.fill import fill_tokens
    from flux_core.kontext import KontextVelocity, reference_tokens

    from .control import control_velocity

    velocity = control_velocity(model, conditioning, batch, h, w, device, dtype, input_name)
    if conditioning.references:
        tokens, ids = reference_tokens(conditioning.references, batch, h, w, conditioning.reference_method)
        velocity = KontextVelocity(velocity, tokens.to(device, dtype), ids.to(device, dtype))
    if model.is_fill:
        if conditioning.fill_latent is None:
            raise NodeError(f"{model.name} is a FLUX.1 Fill model: it needs the picture and mask to paint; feed "
                            f"the conditioning through an InpaintConditioning node", input=input_name)
        if tuple(conditioning.fill_latent.shape[-2:]) != (h, w):
            raise NodeError(f"the inpainting picture is {conditioning.fill_mask.shape[-1]}x"
                            f"{conditioning.fill_mask.shape[-2]} px but the latent is {w * 8}x{h * 8}",
                            input=input_name)
        try:
            tokens = fill_tokens(conditioning.fill_latent, conditioning.fill_mask, batch)
        except ValueError as e:
            raise NodeError(str(e), input=input_name) from None
        velocity = ChannelConcatVelocity(velocity, tokens.to(device, dtype))
    return velocity


class _Run:
    """The tensors one sampling run needs, on the model's device and dtype."""

    def __init__(self, model: FluxModel, conditioning: Conditioning, latent: Latent, ctx):
        import torch

        from flux_core.loading import module_compute_dtype
        from flux_core.patch_padding import RepaddedVelocity, needs_padding, padded_size
        from flux_core.sampling import img_ids, txt_ids

        check_compatible(model, conditioning, latent, odd_sides=True)
        self.model, self.latent = model, latent
        self.device = next(model.model.parameters()).device
        self.dtype = module_compute_dtype(model.model)
        b = latent.batch
        h, w = self.h, self.w = latent.samples.shape[2], latent.samples.shape[3]
        self.txt = conditioning.txt.expand(b, -1, -1).to(self.device, self.dtype)
        self.vec = conditioning.vec.expand(b, -1).to(self.device, self.dtype)
        self.img_ids = img_ids(b, *padded_size(h, w), self.device).to(self.dtype)
        self.txt_ids = txt_ids(b, self.txt.shape[1], self.device).to(self.dtype)
        self.guidance = None
        if model.has_guidance:
            self.guidance = default_guidance(model) if conditioning.guidance is None else conditioning.guidance
        self.torch = torch
        self.velocity = conditioned_model(model, conditioning, b, h, w, self.device, self.dtype)
        if needs_padding(h, w):  # a side of 8 but not 16 px: the loop runs on the padded grid, as ComfyUI's model
            self.velocity = RepaddedVelocity(self.velocity, h, w)

    def pack(self, samples):
        """Latent cells -> tokens (of the padded grid when a side is odd)."""
        from flux_core.patch_padding import pad_to_patches
        from flux_core.sampling import pack

        return pack(pad_to_patches(samples.to(self.device, self.dtype)))

    def unpack(self, img) -> Latent:
        from flux_core.patch_padding import crop_to, padded_size
        from flux_core.sampling import unpack

        ph, pw = padded_size(self.h, self.w)
        x = crop_to(unpack(img.float(), ph * 8, pw * 8), self.h, self.w).cpu()
        return Latent(x, self.latent.width, self.latent.height, self.latent.noise_mask, self.latent.batch_index)

    def mask_noise(self, noise, sigmas):
        """Repaint only the latent's noise mask (SetLatentNoiseMask), holding the rest at each level."""
        from flux_core.inpaint import MaskedVelocity, comfy_sigma_min, latent_mask
        from flux_core.patch_padding import pad_to_patches
        from flux_core.sampling import pack

        if self.latent.noise_mask is not None:
            samples = self.latent.samples

            def tokens(x):  # float32 tokens on the device (of the padded grid when a side is odd)
                return pack(pad_to_patches(x.float())).to(self.device)

            mask = latent_mask(self.latent.noise_mask, *samples.shape)
            self.velocity = MaskedVelocity(self.velocity, tokens(samples), tokens(noise), tokens(mask), list(sigmas),
                                           self.model.differential, comfy_sigma_min(self.model.has_guidance))

    def denoise(self, img, timesteps, callback=None):
        from flux_core.sampling import denoise

        with self.torch.inference_mode():
            return denoise(self.velocity, img, self.img_ids, self.txt, self.txt_ids, self.vec, list(timesteps),
                           guidance=self.guidance, callback=callback)


def _borrow(model: FluxModel, conditioning: Conditioning, latent: Latent, ctx):
    """Borrow the transformer, after telling the memory manager the activations this run needs."""
    from flux_core.memory import activation_reserve, borrow, manager_for

    p = model.params
    # Kontext's references are packed 2x2 latent cells per token, like the generated image; Redux's tokens
    # are already in the text (ApplyStyle appends them), so txt counts them
    references = sum((r.shape[-2] // 2) * (r.shape[-1] // 2) for r in conditioning.references)
    manager_for(ctx).set_activation_reserve(activation_reserve(
        latent.width, latent.height, latent.batch, conditioning.txt.shape[1], p.hidden_size, p.mlp_ratio,
        extra_tokens=references))
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
            drawn = noise.for_latent(latent)
            run.mask_noise(drawn, sigmas.values)
            start = img2img_start(latent.samples, drawn, sigmas.values[0])
            ctx.progress(0, sigmas.steps)

            def after_step(i, n, x, x0):
                preview = latent_preview(run.unpack(x0).samples, preview_vae, ctx)
                ctx.progress(i + 1, n, preview)  # raises Interrupted when the run was stopped

            img = run.denoise(run.pack(start), sigmas.values, callback=after_step)
        return run.unpack(img)


NODES = [Scheduler, SamplerStep, Sampler]
