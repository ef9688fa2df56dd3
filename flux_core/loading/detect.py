"""What a weights file holds, and the architecture config read from its tensor shapes.

Component detection uses key names (never file names). Configs are inferred from shapes as in
flux-spec §5: transformer depth from block counts, widths from weight shapes, heads from the QK-norm
scale size (head_dim), schnell vs dev from ``guidance_in``; autoencoder widths and levels; T5 and
CLIP sizes. What shapes cannot tell (FLUX's RoPE axis split, GroupNorm groups, latent scale/shift,
CLIP head count, T5 relative-attention distance, text lengths) comes from defaults that match the
real FLUX files, unless the file says otherwise in its metadata:

``__metadata__["fluxwire.config"]`` is a JSON object mapping component names (``"transformer"``,
``"vae"``, ``"t5"``, ``"clip"``) to explicit config fields, which win over inferred values. Fields are
those of ``FluxParams`` (e.g. ``{"axes_dim": [4, 14, 14]}``), ``AutoEncoderParams`` (e.g.
``{"norm_groups": 4, "scale_factor": 0.652, "shift_factor": -0.05}``), transformers' ``T5Config`` /
``CLIPTextConfig`` (e.g. ``{"num_attention_heads": 4}``), plus ``"max_length"`` for the text encoders
(the tokenizer length: T5 256/512, CLIP 77). A file holding one component may also give that
component's fields directly, without the component-name level. Fields may be partial.
Example: ``{"transformer": {"axes_dim": [4, 14, 14]}, "t5": {"max_length": 16}}``.
"""
from __future__ import annotations

import json
from collections import Counter

from .errors import ModelLoadError, first_keys
from .keymaps import (
    CHECKPOINT_PREFIXES,
    block_count,
    diffusers_to_bfl_transformer,
    diffusers_to_bfl_vae,
    drop_ignored,
    normalize_clip,
    normalize_t5,
    split_scaled_fp8,
    strip_prefix,
)

METADATA_KEY = "fluxwire.config"
COMPONENTS = ("transformer", "vae", "t5", "clip")
COMPONENT_NAMES = {
    "transformer": "FLUX transformer",
    "vae": "FLUX autoencoder",
    "t5": "T5 text encoder",
    "clip": "CLIP text encoder",
}
T5_DEFAULT_MAX_LENGTH = {"schnell": 256, "dev": 512}
CLIP_MAX_LENGTH = 77


def classify(keys) -> tuple[str, str] | None:
    """(component, layout) of a prefix-free key set, layout "bfl" or "diffusers"; None if not FLUX."""
    keys = set(keys)
    if "img_in.weight" in keys and any(k.startswith("double_blocks.") or k.startswith("single_blocks.") for k in keys):
        return "transformer", "bfl"
    if "x_embedder.weight" in keys and any(k.startswith("transformer_blocks.") for k in keys):
        return "transformer", "diffusers"
    if "decoder.conv_in.weight" in keys and any(k.startswith("encoder.down.") for k in keys):
        return "vae", "bfl"
    if "decoder.conv_in.weight" in keys and any(k.startswith("encoder.down_blocks.") for k in keys):
        return "vae", "diffusers"
    if "encoder.block.0.layer.0.SelfAttention.q.weight" in keys:
        return "t5", "transformers"
    if {"encoder.layers.0.self_attn.q_proj.weight", "text_model.encoder.layers.0.self_attn.q_proj.weight"} & keys:
        return "clip", "transformers"
    return None


def split_components(sd: dict, source: str) -> dict[str, tuple[dict, str]]:
    """Split a file's tensors into {component: (prefix-free tensors, layout)}.

    All-in-one checkpoints are recognised by their prefixes; anything else must be one component.
    """
    found: dict[str, dict] = {}
    rest = dict(sd)
    for component, prefixes in CHECKPOINT_PREFIXES.items():
        for prefix in prefixes:
            part = strip_prefix(rest, prefix)
            if part:
                found[component] = part
                rest = {k: v for k, v in rest.items() if not k.startswith(prefix)}
                break
    if not found:
        kind = classify(split_scaled_fp8(sd)[0])
        if kind is None:
            raise ModelLoadError(
                f"{source}: not a FLUX component: no FLUX transformer, autoencoder, T5 or CLIP keys found "
                f"(first keys: {first_keys(sd)})"
            )
        return {kind[0]: (sd, kind[1])}
    rest = drop_ignored(rest)
    if rest:
        raise ModelLoadError(f"{source}: keys outside the known checkpoint prefixes: {first_keys(rest)}")
    out = {}
    for component, part in found.items():
        kind = classify(split_scaled_fp8(part)[0])
        if kind is None or kind[0] != component:
            prefix = next(p for p in CHECKPOINT_PREFIXES[component] if any(k.startswith(p) for k in sd))
            raise ModelLoadError(
                f"{source}: the {prefix!r} part is not a {COMPONENT_NAMES[component]} (first keys: {first_keys(part)})"
            )
        out[component] = (part, kind[1])
    return out


def to_bfl_names(component: str, layout: str, sd: dict) -> dict:
    """Rename one component's tensors to the names of our modules."""
    if component == "transformer" and layout == "diffusers":
        return diffusers_to_bfl_transformer(sd)
    if component == "vae" and layout == "diffusers":
        return diffusers_to_bfl_vae(sd)
    if component == "t5":
        return normalize_t5(sd)
    if component == "clip":
        return normalize_clip(sd)
    return sd


# ---------------------------------------------------------------- config inference


def _shape(shapes: dict, key: str, what: str) -> tuple[int, ...]:
    if key not in shapes:
        raise ModelLoadError(f"cannot read the {what} config: tensor {key!r} is missing")
    return tuple(shapes[key])


def flux_axes_dim(head_dim: int) -> list[int]:
    """RoPE axis split in FLUX's ratio 16:56:56 (of 128), rounded to even sizes: 32 -> [4, 14, 14], 16 -> [4, 6, 6]."""
    side = 2 * ((7 * head_dim) // 32)
    return [head_dim - 2 * side, side, side]


def infer_flux_params(shapes: dict) -> dict:
    what = COMPONENT_NAMES["transformer"]
    hidden, in_channels = _shape(shapes, "img_in.weight", what)
    depth = block_count(shapes, "double_blocks")
    depth_single = block_count(shapes, "single_blocks")
    if depth:
        head_dim = _shape(shapes, "double_blocks.0.img_attn.norm.query_norm.scale", what)[0]
        mlp_hidden = _shape(shapes, "double_blocks.0.img_mlp.0.weight", what)[0]
    else:
        head_dim = _shape(shapes, "single_blocks.0.norm.query_norm.scale", what)[0]
        mlp_hidden = _shape(shapes, "single_blocks.0.linear1.weight", what)[0] - 3 * hidden
    if head_dim <= 0 or hidden % head_dim:
        raise ModelLoadError(f"cannot read the {what} config: hidden size {hidden} is not a multiple of head size {head_dim}")
    return {
        "in_channels": in_channels,
        "out_channels": _shape(shapes, "final_layer.linear.weight", what)[0],
        "vec_in_dim": _shape(shapes, "vector_in.in_layer.weight", what)[1],
        "context_in_dim": _shape(shapes, "txt_in.weight", what)[1],
        "hidden_size": hidden,
        "mlp_ratio": mlp_hidden / hidden,
        "num_heads": hidden // head_dim,
        "depth": depth,
        "depth_single_blocks": depth_single,
        "axes_dim": flux_axes_dim(head_dim),
        "theta": 10000,
        "qkv_bias": "double_blocks.0.img_attn.qkv.bias" in shapes if depth else True,
        "guidance_embed": "guidance_in.in_layer.weight" in shapes,
    }


def infer_ae_params(shapes: dict) -> dict:
    what = COMPONENT_NAMES["vae"]
    ch, in_channels = _shape(shapes, "encoder.conv_in.weight", what)[:2]
    levels = block_count(shapes, "encoder.down")
    ch_mult = [_shape(shapes, f"encoder.down.{i}.block.0.conv1.weight", what)[0] // ch for i in range(levels)]
    return {
        "resolution": 256,
        "in_channels": in_channels,
        "ch": ch,
        "out_ch": _shape(shapes, "decoder.conv_out.weight", what)[0],
        "ch_mult": ch_mult,
        "num_res_blocks": block_count(shapes, "encoder.down.0.block"),
        "z_channels": _shape(shapes, "decoder.conv_in.weight", what)[1],
        "scale_factor": 0.3611,
        "shift_factor": 0.1159,
        "norm_groups": 32,
    }


def infer_t5_config(shapes: dict) -> dict:
    what = COMPONENT_NAMES["t5"]
    vocab, d_model = _shape(shapes, "shared.weight", what)
    buckets, heads = _shape(shapes, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", what)
    inner = _shape(shapes, "encoder.block.0.layer.0.SelfAttention.q.weight", what)[0]
    gated = "encoder.block.0.layer.1.DenseReluDense.wi_0.weight" in shapes
    wi = "wi_0" if gated else "wi"
    return {
        "vocab_size": vocab,
        "d_model": d_model,
        "d_kv": inner // heads,
        "d_ff": _shape(shapes, f"encoder.block.0.layer.1.DenseReluDense.{wi}.weight", what)[0],
        "num_layers": block_count(shapes, "encoder.block"),
        "num_heads": heads,
        "relative_attention_num_buckets": buckets,
        "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu" if gated else "relu",
        "layer_norm_epsilon": 1e-6,
        "dropout_rate": 0.0,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }


def infer_clip_config(shapes: dict) -> dict:
    what = COMPONENT_NAMES["clip"]
    vocab, hidden = _shape(shapes, "embeddings.token_embedding.weight", what)
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": _shape(shapes, "encoder.layers.0.mlp.fc1.weight", what)[0],
        "num_hidden_layers": block_count(shapes, "encoder.layers"),
        "num_attention_heads": max(1, hidden // 64),
        "max_position_embeddings": _shape(shapes, "embeddings.position_embedding.weight", what)[0],
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
        # openai's legacy ids: eos 2 makes transformers pool at argmax(input_ids), the real EOS (flux-spec §1.4)
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
        "projection_dim": hidden,
    }


INFER = {"transformer": infer_flux_params, "vae": infer_ae_params, "t5": infer_t5_config, "clip": infer_clip_config}


def explicit_config(metadata: dict, component: str, single: bool, source: str) -> dict:
    """The ``fluxwire.config`` fields for ``component`` (empty when the file has none)."""
    raw = metadata.get(METADATA_KEY)
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{source}: metadata {METADATA_KEY!r} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{source}: metadata {METADATA_KEY!r} must be a JSON object")
    if any(name in config for name in COMPONENTS):
        part = config.get(component, {})
    else:
        part = config if single else {}
    if not isinstance(part, dict):
        raise ModelLoadError(f"{source}: metadata {METADATA_KEY!r}[{component!r}] must be a JSON object")
    return part


def infer_config(component: str, sd: dict, explicit: dict, source: str) -> dict:
    """Inferred config of one component (BFL names), overridden by the explicit fields."""
    shapes = {k: v.shape for k, v in split_scaled_fp8(sd)[0].items()}
    try:
        config = INFER[component](shapes)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{source}: {exc}") from None
    config.update(explicit)
    return config


def dominant_dtype(sd: dict) -> str:
    """The dtype holding most of the parameters (how a file is usually described: bf16, fp8_e4m3fn...)."""
    counts = Counter()
    for t in sd.values():
        counts[t.dtype] += t.numel()
    if not counts:
        return "none"
    return str(counts.most_common(1)[0][0]).removeprefix("torch.")


def variant(transformer_config: dict) -> str:
    """"dev" when the transformer has a guidance embedder, else "schnell"."""
    return "dev" if transformer_config.get("guidance_embed") else "schnell"


MODEL_TYPE_KEY = "fluxwire.model_type"


def model_type(transformer_config: dict, metadata: dict | None = None, name: str = "") -> str:
    """"fill" when img_in reads two latents plus the 256-wide packed mask (FLUX.1 Fill, 384 for the real
    model); "kontext" when the file says so (``fluxwire.model_type`` or a metadata value naming Kontext)
    or, as the user's choice, its name contains "kontext" (Kontext has dev's shapes); else the variant."""
    inp, out = transformer_config.get("in_channels", 64), transformer_config.get("out_channels", 64)
    if inp == 2 * out + 256:
        return "fill"
    metadata = metadata or {}
    if metadata.get(MODEL_TYPE_KEY) in ("fill", "kontext", "dev", "schnell"):
        return metadata[MODEL_TYPE_KEY]
    if any("kontext" in str(v).lower() for v in metadata.values()) or "kontext" in name.lower():
        return "kontext" if transformer_config.get("guidance_embed") else variant(transformer_config)
    return variant(transformer_config)


def is_control(transformer_config: dict) -> bool:
    """FLUX.1 Canny/Depth: img_in reads the noisy latent plus the control picture's latent (128 for FLUX)."""
    return transformer_config.get("in_channels", 64) == 2 * transformer_config.get("out_channels", 64)


def control_kind(transformer_config: dict, name: str = "") -> str | None:
    """"canny" or "depth" for a control model (by its file name, as the shapes are equal), "control" when the
    name does not tell, None for other models."""
    if not is_control(transformer_config):
        return None
    lowered = name.lower()
    return "depth" if "depth" in lowered else "canny" if "canny" in lowered else "control"
