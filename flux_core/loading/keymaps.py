"""Key names: checkpoint prefixes, diffusers <-> BFL layouts (flux-spec §5.3-5.6), text-encoder quirks.

All functions map lazy state dicts (``dict[str, LazyTensor]``) to lazy state dicts, so they only
rename and re-index: fused tensors are split or concatenated when read, never before. Keys a map
does not know pass through unchanged, so the strict key check that follows names them as extra.
"""
from __future__ import annotations

import re

from .tensors import LazyTensor, concat, reshape, split, swap_halves

# Prefixes of ComfyUI-style all-in-one checkpoints, per component (flux-spec §5.3).
CHECKPOINT_PREFIXES = {
    "transformer": ("model.diffusion_model.",),
    "vae": ("vae.", "first_stage_model."),
    "t5": ("text_encoders.t5xxl.transformer.",),
    "clip": ("text_encoders.clip_l.transformer.",),
}
# Harmless extras some files carry (CLIP projection/logit scale, position-id buffer, tokenizer blobs).
IGNORED_SUFFIXES = ("logit_scale", "text_projection.weight", "position_ids", "spiece_model")


def strip_prefix(sd: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def add_prefix(sd: dict, prefix: str) -> dict:
    return {prefix + k: v for k, v in sd.items()}


def drop_ignored(sd: dict) -> dict:
    return {k: v for k, v in sd.items() if not k.endswith(IGNORED_SUFFIXES)}


# ---------------------------------------------------------------- transformer (flux-spec §5.4)

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
_DOUBLE_FUSED = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
}
_SINGLE = {"linear2": "proj_out", "modulation.lin": "norm.linear"}
_SINGLE_NORMS = {"norm.query_norm.scale": "attn.norm_q.weight", "norm.key_norm.scale": "attn.norm_k.weight"}
_SINGLE_FUSED = {"linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")}
_FINAL_ADALN = ("final_layer.adaLN_modulation.1", "norm_out.linear")  # halves swapped


def block_count(keys, prefix: str) -> int:
    """Number of blocks ``prefix.N.`` (max index + 1)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    found = [int(m.group(1)) for k in keys if (m := pattern.match(k))]
    return max(found) + 1 if found else 0


def _transformer_rules(depth: int, depth_single: int):
    """(BFL module, diffusers module(s), kind) for every linear/norm; kind: direct, fused, swap, norm."""
    rules = [(b, d, "direct") for b, d in _TOP.items()]
    rules.append((_FINAL_ADALN[0], _FINAL_ADALN[1], "swap"))
    for i in range(depth):
        bp, dp = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        rules += [(bp + b, dp + d, "direct") for b, d in _DOUBLE.items()]
        rules += [(bp + b, dp + d, "norm") for b, d in _DOUBLE_NORMS.items()]
        rules += [(bp + b, tuple(dp + x for x in d), "fused") for b, d in _DOUBLE_FUSED.items()]
    for i in range(depth_single):
        bp, dp = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        rules += [(bp + b, dp + d, "direct") for b, d in _SINGLE.items()]
        rules += [(bp + b, dp + d, "norm") for b, d in _SINGLE_NORMS.items()]
        rules += [(bp + b, tuple(dp + x for x in d), "fused") for b, d in _SINGLE_FUSED.items()]
    return rules


def diffusers_to_bfl_transformer(sd: dict) -> dict:
    """diffusers ``FluxTransformer2DModel`` keys -> BFL ``Flux`` keys (fused qkv/linear1, swapped final adaLN)."""
    out, used = {}, set()
    rules = _transformer_rules(block_count(sd, "transformer_blocks"), block_count(sd, "single_transformer_blocks"))
    for bfl, diff, kind in rules:
        if kind == "norm":
            if diff in sd:
                out[bfl] = sd[diff]
                used.add(diff)
            continue
        for suffix in (".weight", ".bias"):
            if kind == "fused":
                parts = [d + suffix for d in diff]
                if all(p in sd for p in parts):
                    out[bfl + suffix] = concat([sd[p] for p in parts], dim=0)
                    used.update(parts)
            elif diff + suffix in sd:
                t = sd[diff + suffix]
                out[bfl + suffix] = swap_halves(t) if kind == "swap" else t
                used.add(diff + suffix)
    out.update({k: v for k, v in sd.items() if k not in used})
    return out


def bfl_to_diffusers_transformer(sd: dict) -> dict:
    """BFL ``Flux`` keys -> diffusers ``FluxTransformer2DModel`` keys (the inverse re-indexing)."""
    out, used = {}, set()
    rules = _transformer_rules(block_count(sd, "double_blocks"), block_count(sd, "single_blocks"))
    for bfl, diff, kind in rules:
        if kind == "norm":
            if bfl in sd:
                out[diff] = sd[bfl]
                used.add(bfl)
            continue
        for suffix in (".weight", ".bias"):
            key = bfl + suffix
            if key not in sd:
                continue
            t = sd[key]
            used.add(key)
            if kind == "fused":
                hidden = sd[bfl + ".weight"].shape[1]
                sizes = [hidden] * 3 + ([t.shape[0] - 3 * hidden] if len(diff) == 4 else [])
                for i, d in enumerate(diff):
                    out[d + suffix] = split(t, sizes, i)
            else:
                out[diff + suffix] = swap_halves(t) if kind == "swap" else t
    out.update({k: v for k, v in sd.items() if k not in used})
    return out


# ---------------------------------------------------------------- autoencoder (flux-spec §5.5)

_VAE_SHARED = [  # (diffusers pattern, BFL replacement), applied in order; {n} = level count
    (r"^(encoder|decoder)\.conv_norm_out\.", r"\1.norm_out."),
    (r"^(encoder|decoder)\.mid_block\.resnets\.0\.", r"\1.mid.block_1."),
    (r"^(encoder|decoder)\.mid_block\.resnets\.1\.", r"\1.mid.block_2."),
    (r"^(encoder|decoder)\.mid_block\.attentions\.0\.group_norm\.", r"\1.mid.attn_1.norm."),
    (r"^(encoder|decoder)\.mid_block\.attentions\.0\.(?:to_q|query)\.", r"\1.mid.attn_1.q."),
    (r"^(encoder|decoder)\.mid_block\.attentions\.0\.(?:to_k|key)\.", r"\1.mid.attn_1.k."),
    (r"^(encoder|decoder)\.mid_block\.attentions\.0\.(?:to_v|value)\.", r"\1.mid.attn_1.v."),
    (r"^(encoder|decoder)\.mid_block\.attentions\.0\.(?:to_out\.0|proj_attn)\.", r"\1.mid.attn_1.proj_out."),
    (r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", r"encoder.down.\1.block.\2."),
    (r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.", r"encoder.down.\1.downsample.conv."),
]
_VAE_ATTN = re.compile(r"^(encoder|decoder)\.mid\.attn_1\.(q|k|v|proj_out)\.weight$")


def diffusers_to_bfl_vae(sd: dict) -> dict:
    """diffusers ``AutoencoderKL`` keys -> BFL ``AutoEncoder`` keys (decoder levels reversed, 1x1 attention)."""
    levels = block_count(sd, "decoder.up_blocks")
    out = {}
    for key, t in sd.items():
        new = key
        for pattern, repl in _VAE_SHARED:
            new = re.sub(pattern, repl, new)
        m = re.match(r"^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.", new)
        if m:
            level = levels - 1 - int(m.group(1))
            inner = f"block.{m.group(3)}." if m.group(2) == "resnets" else "upsample."
            new = f"decoder.up.{level}.{inner}" + new[m.end():]
        new = new.replace(".conv_shortcut.", ".nin_shortcut.")
        if _VAE_ATTN.match(new) and len(t.shape) == 2:
            t = reshape(t, (*t.shape, 1, 1))
        out[new] = t
    return out


def bfl_to_diffusers_vae(sd: dict) -> dict:
    """BFL ``AutoEncoder`` keys -> diffusers ``AutoencoderKL`` keys."""
    levels = block_count(sd, "decoder.up")
    reverse = [
        (r"^(encoder|decoder)\.norm_out\.", r"\1.conv_norm_out."),
        (r"^(encoder|decoder)\.mid\.block_1\.", r"\1.mid_block.resnets.0."),
        (r"^(encoder|decoder)\.mid\.block_2\.", r"\1.mid_block.resnets.1."),
        (r"^(encoder|decoder)\.mid\.attn_1\.norm\.", r"\1.mid_block.attentions.0.group_norm."),
        (r"^(encoder|decoder)\.mid\.attn_1\.q\.", r"\1.mid_block.attentions.0.to_q."),
        (r"^(encoder|decoder)\.mid\.attn_1\.k\.", r"\1.mid_block.attentions.0.to_k."),
        (r"^(encoder|decoder)\.mid\.attn_1\.v\.", r"\1.mid_block.attentions.0.to_v."),
        (r"^(encoder|decoder)\.mid\.attn_1\.proj_out\.", r"\1.mid_block.attentions.0.to_out.0."),
        (r"^encoder\.down\.(\d+)\.block\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2."),
        (r"^encoder\.down\.(\d+)\.downsample\.conv\.", r"encoder.down_blocks.\1.downsamplers.0.conv."),
    ]
    out = {}
    for key, t in sd.items():
        if _VAE_ATTN.match(key) and len(t.shape) == 4:
            t = reshape(t, t.shape[:2])
        new = key
        for pattern, repl in reverse:
            new = re.sub(pattern, repl, new)
        m = re.match(r"^decoder\.up\.(\d+)\.(block\.(\d+)|upsample)\.", new)
        if m:
            index = levels - 1 - int(m.group(1))
            inner = f"resnets.{m.group(3)}." if m.group(3) is not None else "upsamplers.0."
            new = f"decoder.up_blocks.{index}.{inner}" + new[m.end():]
        new = new.replace(".nin_shortcut.", ".conv_shortcut.")
        out[new] = t
    return out


# ---------------------------------------------------------------- text encoders (flux-spec §5.6)

T5_TIED = ("shared.weight", "encoder.embed_tokens.weight")


def normalize_clip(sd: dict) -> dict:
    """transformers-4 ``text_model.`` keys -> transformers-5 ``CLIPTextModel`` keys; drop harmless extras."""
    return drop_ignored({k.removeprefix("text_model."): v for k, v in sd.items()})


def normalize_t5(sd: dict) -> dict:
    """Keep the tied embedding once, as ``shared.weight`` (files may carry either name or both)."""
    sd = drop_ignored(sd)
    if T5_TIED[0] not in sd and T5_TIED[1] in sd:
        sd = dict(sd)
        sd[T5_TIED[0]] = sd.pop(T5_TIED[1])
    else:
        sd = {k: v for k, v in sd.items() if k != T5_TIED[1]}
    return sd


# ---------------------------------------------------------------- ComfyUI scaled fp8 (flux-spec §5.3)

SCALED_FP8_MARKER = "scaled_fp8"


def split_scaled_fp8(sd: dict) -> tuple[dict, dict[str, LazyTensor], bool]:
    """Separate per-layer weight scales from the weights.

    Returns (weights without scale keys or the marker, {layer: scale}, marker present). Newer files
    name the scale ``weight_scale``; ``scale_input`` / ``input_scale`` only serve fp8 matmuls on
    hardware that has them and are dropped (activations here are never quantised).
    """
    weights, scales = {}, {}
    marker = SCALED_FP8_MARKER in sd
    for key, t in sd.items():
        if key == SCALED_FP8_MARKER or key.endswith((".scale_input", ".input_scale")):
            continue
        if key.endswith((".scale_weight", ".weight_scale")):
            scales[key.rsplit(".", 1)[0]] = t
        else:
            weights[key] = t
    return weights, scales, marker
