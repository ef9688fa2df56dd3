"""Test-side tools for the parity suite: tiny configs, non-trivial random weights, and the
BFL <-> diffusers key mapping of flux-spec §5.4 written independently of the product code."""
from __future__ import annotations

import torch
from torch import nn

from flux_core.models import AutoEncoder, AutoEncoderParams, Flux, FluxParams


def tiny_flux_params(guidance_embed: bool = True, **overrides) -> FluxParams:
    """parity-plan §2.1: hidden 32 = 2 heads x 16, axes (4, 4, 8), 2 + 2 blocks."""
    fields = dict(
        in_channels=16,
        out_channels=16,
        vec_in_dim=8,
        context_in_dim=12,
        hidden_size=32,
        mlp_ratio=4.0,
        num_heads=2,
        depth=2,
        depth_single_blocks=2,
        axes_dim=(4, 4, 8),
        theta=10000,
        qkv_bias=True,
        guidance_embed=guidance_embed,
    )
    fields.update(overrides)
    return FluxParams(**fields)


def diffusers_transformer_for(params: FluxParams):
    """An empty diffusers FluxTransformer2DModel with the same architecture as ``params``."""
    from diffusers import FluxTransformer2DModel

    if params.mlp_ratio != 4.0 or params.theta != 10000 or not params.qkv_bias:
        raise ValueError("diffusers can only represent mlp_ratio 4, theta 10000 and qkv_bias")
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=params.in_channels,
        out_channels=params.out_channels,
        num_layers=params.depth,
        num_single_layers=params.depth_single_blocks,
        attention_head_dim=params.hidden_size // params.num_heads,
        num_attention_heads=params.num_heads,
        joint_attention_dim=params.context_in_dim,
        pooled_projection_dim=params.vec_in_dim,
        guidance_embeds=params.guidance_embed,
        axes_dims_rope=tuple(params.axes_dim),
    )


def tiny_ae_params(levels: int = 4) -> AutoEncoderParams:
    """parity-plan §2.2: width 32, one ResNet per level; 4 levels give the real x8 downscale."""
    return AutoEncoderParams(
        ch=32, ch_mult=(1,) * levels, num_res_blocks=1, z_channels=4, norm_groups=32
    )


def diffusers_vae_for(p: AutoEncoderParams):
    from diffusers import AutoencoderKL

    n = len(p.ch_mult)
    return AutoencoderKL(
        in_channels=p.in_channels,
        out_channels=p.out_ch,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=tuple(p.ch * m for m in p.ch_mult),
        layers_per_block=p.num_res_blocks,
        act_fn="silu",
        latent_channels=p.z_channels,
        norm_num_groups=p.norm_groups,
        scaling_factor=p.scale_factor,
        shift_factor=p.shift_factor,
        use_quant_conv=False,
        use_post_quant_conv=False,
        mid_block_add_attention=True,
    )


def randomize_(module: nn.Module, seed: int = 0, std: float = 0.2) -> nn.Module:
    """Every parameter from N(0, std^2), GroupNorm weights from 1 + N(0, 0.1^2): default inits hide mapping bugs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
            if isinstance(owner, nn.GroupNorm) and name.endswith(".weight"):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(std * noise)
    return module


# --- transformer key mapping (flux-spec §5.4) --------------------------------------------------

_TOP = {
    "img_in": "x_embedder",
    "txt_in": "context_embedder",
    "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
    "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
    "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
    "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
    "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
    "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
    "final_layer.linear": "proj_out",
}
_DOUBLE = {
    "img_mod.lin": "norm1.linear",
    "txt_mod.lin": "norm1_context.linear",
    "img_attn.proj": "attn.to_out.0",
    "txt_attn.proj": "attn.to_add_out",
    "img_mlp.0": "ff.net.0.proj",
    "img_mlp.2": "ff.net.2",
    "txt_mlp.0": "ff_context.net.0.proj",
    "txt_mlp.2": "ff_context.net.2",
}
_DOUBLE_NORMS = {
    "img_attn.norm.query_norm.scale": "attn.norm_q.weight",
    "img_attn.norm.key_norm.scale": "attn.norm_k.weight",
    "txt_attn.norm.query_norm.scale": "attn.norm_added_q.weight",
    "txt_attn.norm.key_norm.scale": "attn.norm_added_k.weight",
}
_DOUBLE_QKV = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
}
_SINGLE = {"linear2": "proj_out", "modulation.lin": "norm.linear"}
_SINGLE_NORMS = {"norm.query_norm.scale": "attn.norm_q.weight", "norm.key_norm.scale": "attn.norm_k.weight"}
_SINGLE_SPLIT = ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")


def _swap_halves(t: torch.Tensor) -> torch.Tensor:
    a, b = t.chunk(2, dim=0)
    return torch.cat([b, a], dim=0)


def _block_indices(keys, prefix: str) -> list[int]:
    return sorted({int(k[len(prefix):].split(".")[0]) for k in keys if k.startswith(prefix)})


def bfl_to_diffusers(sd: dict[str, torch.Tensor], swap_final: bool = True) -> dict[str, torch.Tensor]:
    """BFL transformer state dict -> diffusers FluxTransformer2DModel names (pure re-indexing)."""
    out: dict[str, torch.Tensor] = {}
    hidden = sd["img_in.weight"].shape[0]
    for src, dst in _TOP.items():
        for s in ("weight", "bias"):
            if f"{src}.{s}" in sd:
                out[f"{dst}.{s}"] = sd[f"{src}.{s}"]
    for s in ("weight", "bias"):
        t = sd[f"final_layer.adaLN_modulation.1.{s}"]
        out[f"norm_out.linear.{s}"] = _swap_halves(t) if swap_final else t
    for i in _block_indices(sd, "double_blocks."):
        b, d = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        for src, dst in _DOUBLE.items():
            for s in ("weight", "bias"):
                out[f"{d}{dst}.{s}"] = sd[f"{b}{src}.{s}"]
        for src, dst in _DOUBLE_NORMS.items():
            out[d + dst] = sd[b + src]
        for src, dsts in _DOUBLE_QKV.items():
            for s in ("weight", "bias"):
                for part, dst in zip(sd[f"{b}{src}.{s}"].chunk(3, dim=0), dsts):
                    out[f"{d}{dst}.{s}"] = part
    for i in _block_indices(sd, "single_blocks."):
        b, d = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        for src, dst in _SINGLE.items():
            for s in ("weight", "bias"):
                out[f"{d}{dst}.{s}"] = sd[f"{b}{src}.{s}"]
        for src, dst in _SINGLE_NORMS.items():
            out[d + dst] = sd[b + src]
        for s in ("weight", "bias"):
            w = sd[f"{b}linear1.{s}"]
            sizes = [hidden, hidden, hidden, w.shape[0] - 3 * hidden]
            for part, dst in zip(torch.split(w, sizes, dim=0), _SINGLE_SPLIT):
                out[f"{d}{dst}.{s}"] = part
    return out


def diffusers_to_bfl(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`bfl_to_diffusers`: concatenate the split parts, swap the final halves back."""
    out: dict[str, torch.Tensor] = {}
    for src, dst in _TOP.items():
        for s in ("weight", "bias"):
            if f"{dst}.{s}" in sd:
                out[f"{src}.{s}"] = sd[f"{dst}.{s}"]
    for s in ("weight", "bias"):
        out[f"final_layer.adaLN_modulation.1.{s}"] = _swap_halves(sd[f"norm_out.linear.{s}"])
    for i in _block_indices(sd, "transformer_blocks."):
        b, d = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        for src, dst in _DOUBLE.items():
            for s in ("weight", "bias"):
                out[f"{b}{src}.{s}"] = sd[f"{d}{dst}.{s}"]
        for src, dst in _DOUBLE_NORMS.items():
            out[b + src] = sd[d + dst]
        for src, dsts in _DOUBLE_QKV.items():
            for s in ("weight", "bias"):
                out[f"{b}{src}.{s}"] = torch.cat([sd[f"{d}{dst}.{s}"] for dst in dsts], dim=0)
    for i in _block_indices(sd, "single_transformer_blocks."):
        b, d = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        for src, dst in _SINGLE.items():
            for s in ("weight", "bias"):
                out[f"{b}{src}.{s}"] = sd[f"{d}{dst}.{s}"]
        for src, dst in _SINGLE_NORMS.items():
            out[b + src] = sd[d + dst]
        for s in ("weight", "bias"):
            out[f"{b}linear1.{s}"] = torch.cat([sd[f"{d}{dst}.{s}"] for dst in _SINGLE_SPLIT], dim=0)
    return out


def bfl_vae_to_diffusers(sd: dict[str, torch.Tensor], vae) -> dict[str, torch.Tensor]:
    """BFL ae state dict -> diffusers AutoencoderKL names, via diffusers' own LDM converter (an oracle)."""
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    return convert_ldm_vae_checkpoint(dict(sd), dict(vae.config))


def dev_scheduler():
    """diffusers' scheduler as its FLUX.1 dev pipeline configures it (shift from the image's token count)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096,
    )  # fmt: skip


def twin_flux(params: FluxParams, seed: int):
    """A random tiny FLUX of ours and diffusers' transformer holding the same weights."""
    model = randomize_(Flux(params), seed=seed).eval()
    ref = diffusers_transformer_for(params).eval()
    ref.load_state_dict(bfl_to_diffusers(model.state_dict()), strict=True)
    return model, ref


def twin_autoencoder(seed: int, deterministic_encoder: bool = False):
    """A random tiny (x8) autoencoder of ours and diffusers' AutoencoderKL holding the same weights.

    deterministic_encoder pins the posterior's log-variance to -30: diffusers samples the posterior where we
    take its mean; with std e^-15 both agree to 1e-6 and a comparison is about everything else."""
    ae = randomize_(AutoEncoder(tiny_ae_params(4)), seed=seed).eval()
    if deterministic_encoder:
        z = ae.params.z_channels
        with torch.no_grad():
            ae.encoder.conv_out.weight[z:] = 0
            ae.encoder.conv_out.bias[z:] = -30
    ref = diffusers_vae_for(ae.params).eval()
    ref.load_state_dict(bfl_vae_to_diffusers(ae.state_dict(), ref), strict=True)
    return ae, ref


def text_free_pipeline(pipeline_class, transformer, vae, scheduler=None):
    """A diffusers FLUX pipeline without text encoders: the tests hand it prompt embeddings directly."""
    pipe = pipeline_class(scheduler=scheduler or dev_scheduler(), vae=vae, text_encoder=None, tokenizer=None,
                          text_encoder_2=None, tokenizer_2=None, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe
