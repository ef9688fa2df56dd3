"""Write real-size FLUX.1 dev files with random weights under their real names (a bench helper, not data).

The files have the real configurations, key names, shapes and dtypes, so loading, memory planning and
streaming meet exactly what they meet with the downloaded files; the weights are random (N(0, 0.02)),
so the pictures are noise. Tensors are generated and written one at a time (a few hundred MB of RAM).

    models/diffusion_models/flux1-dev-fp8-e4m3fn.safetensors   11.9 GB  (or flux1-dev.safetensors, bf16, 23.8 GB)
    models/text_encoders/t5xxl_fp8_e4m3fn.safetensors           4.9 GB  (or t5xxl_fp16.safetensors, 9.5 GB)
    models/text_encoders/clip_l.safetensors                     0.25 GB
    models/vae/ae.safetensors                                   0.17 GB

``--scale N`` divides every width by N (a quick check of the whole pipeline on small files).
Tokenizers are copied from the shared test data when present.

    python bench/realsize_models.py MODELS_DIR [--bf16] [--scale 1]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

SHARED_TOKENIZERS = Path("/work/shared/data/tokenizers")
_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float8_e4m3fn: "F8_E4M3"}


def write_streaming(path: Path, shapes: dict[str, tuple[tuple[int, ...], torch.dtype]], metadata=None, seed=0):
    """A safetensors file written tensor by tensor: header first, then each random tensor as it is made."""
    header, offset = {}, 0
    for name, (shape, dtype) in shapes.items():
        n = 1
        for s in shape:
            n *= s
        size = n * dtype.itemsize
        header[name] = {"dtype": _DTYPE_NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    g = torch.Generator().manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, (shape, dtype) in shapes.items():
            is_norm = len(shape) == 1 and ("norm" in name or name.endswith("scale"))
            t = torch.ones(shape) if is_norm else torch.randn(shape, generator=g) * 0.02
            f.write(t.to(dtype).contiguous().view(torch.uint8).numpy().tobytes())
    return offset


def _shapes_of(build, linear_dtype, plain_dtype, keep=lambda name: True) -> dict:
    """Names, shapes and storage dtypes of a module built on the meta device."""
    from flux_core.loading.build import parameters_on_meta

    with parameters_on_meta():
        module = build()
    out = {}
    for name, t in module.state_dict().items():
        if not keep(name) or not t.is_floating_point():
            continue
        is_linear_weight = name.endswith(".weight") and t.ndim == 2 and "embed" not in name and "shared" not in name
        out[name] = (tuple(t.shape), linear_dtype if is_linear_weight else plain_dtype)
    return out


def flux_dev(scale: int):
    from flux_core.models import Flux, FluxParams

    p = FluxParams.dev()
    if scale > 1:
        p = FluxParams(hidden_size=p.hidden_size // scale, num_heads=max(p.num_heads // scale, 1),
                       context_in_dim=4096 // scale, vec_in_dim=768 // scale, depth=max(19 // scale, 1),
                       depth_single_blocks=max(38 // scale, 1), guidance_embed=True,
                       axes_dim=_axes(p.hidden_size // scale // max(p.num_heads // scale, 1)))
    return lambda: Flux(p), p


def _axes(head: int) -> tuple[int, int, int]:
    first = head // 8 // 2 * 2
    rest = (head - first) // 2 // 2 * 2
    return first, rest, head - first - rest


def t5_xxl(scale: int):
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=32128, d_model=4096 // scale, d_kv=64, d_ff=10240 // scale, num_layers=max(24 // scale, 1),
                   num_heads=max(64 // scale, 1), relative_attention_num_buckets=32, feed_forward_proj="gated-gelu",
                   is_encoder_decoder=False)
    return lambda: T5EncoderModel(cfg), cfg


def clip_l(scale: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=768 // scale, intermediate_size=3072 // scale,
                         num_hidden_layers=max(12 // scale, 1), num_attention_heads=max(12 // scale, 1),
                         max_position_embeddings=77, eos_token_id=49407)
    return lambda: CLIPTextModel(cfg), cfg


def autoencoder(scale: int):
    from flux_core.models import AutoEncoder, AutoEncoderParams

    p = AutoEncoderParams.flux()
    if scale > 1:
        p = AutoEncoderParams(resolution=256, in_channels=3, ch=max(128 // scale, 32), out_ch=3, ch_mult=p.ch_mult,
                              num_res_blocks=p.num_res_blocks, z_channels=16, scale_factor=p.scale_factor,
                              shift_factor=p.shift_factor, norm_groups=32)
    return lambda: AutoEncoder(p), p


def write_models(root: Path, bf16: bool = False, scale: int = 1) -> dict[str, Path]:
    root = Path(root)
    fp8 = torch.float8_e4m3fn
    build, params = flux_dev(scale)
    config = {"axes_dim": list(params.axes_dim), "num_heads": params.num_heads}
    names = {
        "transformer": root / "diffusion_models" / ("flux1-dev.safetensors" if bf16 else "flux1-dev-fp8-e4m3fn.safetensors"),
        "t5": root / "text_encoders" / ("t5xxl_fp16.safetensors" if bf16 else "t5xxl_fp8_e4m3fn.safetensors"),
        "clip": root / "text_encoders" / "clip_l.safetensors",
        "vae": root / "vae" / "ae.safetensors",
    }
    write_streaming(names["transformer"], _shapes_of(build, torch.bfloat16 if bf16 else fp8, torch.bfloat16),
                    {"fluxwire.config": json.dumps(config)} if scale > 1 else None)
    build_t5, t5_cfg = t5_xxl(scale)
    t5_shapes = _shapes_of(build_t5, torch.float16 if bf16 else fp8, torch.float16,
                           keep=lambda n: n != "encoder.embed_tokens.weight")
    t5_shapes = {n: (s, torch.float16 if "DenseReluDense.wo" in n else d) for n, (s, d) in t5_shapes.items()}
    write_streaming(names["t5"], t5_shapes, {"fluxwire.config": json.dumps(
        {"num_heads": t5_cfg.num_heads, "relative_attention_num_buckets": 32, "d_kv": 64})}, seed=1)
    build_clip, clip_cfg = clip_l(scale)
    clip_shapes = {("text_model." + n if not n.startswith("text_model.") else n): v
                   for n, v in _shapes_of(build_clip, torch.float16, torch.float16).items()}
    write_streaming(names["clip"], clip_shapes,
                    {"fluxwire.config": json.dumps({"num_attention_heads": clip_cfg.num_attention_heads})}, seed=2)
    build_ae, ae_params = autoencoder(scale)
    write_streaming(names["vae"], _shapes_of(build_ae, torch.float32, torch.float32), {"fluxwire.config": json.dumps(
        {"norm_groups": ae_params.norm_groups, "scale_factor": ae_params.scale_factor,
         "shift_factor": ae_params.shift_factor})}, seed=3)
    for name in ("t5xxl", "clip_l"):
        if (SHARED_TOKENIZERS / name).is_dir():
            shutil.copytree(SHARED_TOKENIZERS / name, root / "tokenizers" / name, dirs_exist_ok=True)
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models_dir")
    parser.add_argument("--bf16", action="store_true", help="bf16 transformer and fp16 T5 (23.8 + 9.5 GB)")
    parser.add_argument("--scale", type=int, default=1, help="divide widths by this (quick checks)")
    args = parser.parse_args(argv)
    for kind, path in write_models(Path(args.models_dir), args.bf16, args.scale).items():
        print(f"{kind}: {path} ({path.stat().st_size / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
