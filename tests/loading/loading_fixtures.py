"""Tiny FLUX components (our modules, transformers' T5/CLIP) with non-trivial random weights, and file writers."""
from __future__ import annotations

import json

import torch
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from flux_core.models import AutoEncoder, AutoEncoderParams, Flux, FluxParams

T5_VOCAB = 32128  # the real T5 tokenizer's ids fit
CLIP_VOCAB = 49408  # the real CLIP tokenizer's ids fit


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter random (norm scales around 1), so a wrong mapping cannot hide behind default inits."""
    g = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        noise = torch.randn(p.shape, generator=g) * 0.2
        is_norm_scale = p.ndim == 1 and ("norm" in name or name.endswith("scale"))
        p.data.copy_(1 + 0.5 * noise if is_norm_scale else noise)
    return module.eval()


def tiny_flux_params(guidance: bool = True) -> FluxParams:
    return FluxParams(
        in_channels=16, out_channels=16, vec_in_dim=8, context_in_dim=12, hidden_size=64, mlp_ratio=4.0,
        num_heads=2, depth=2, depth_single_blocks=2, axes_dim=(4, 14, 14), theta=10000, qkv_bias=True,
        guidance_embed=guidance,
    )


def tiny_flux(guidance: bool = True, seed: int = 0) -> Flux:
    return randomize(Flux(tiny_flux_params(guidance)), seed)


def tiny_ae_params() -> AutoEncoderParams:
    return AutoEncoderParams(resolution=256, in_channels=3, ch=32, out_ch=3, ch_mult=(1, 2), num_res_blocks=1,
                             z_channels=4, scale_factor=0.3611, shift_factor=0.1159, norm_groups=32)


def tiny_ae(seed: int = 1) -> AutoEncoder:
    return randomize(AutoEncoder(tiny_ae_params()), seed)


def tiny_t5_config() -> T5Config:
    return T5Config(vocab_size=T5_VOCAB, d_model=32, d_kv=8, d_ff=40, num_layers=2, num_heads=4,
                    relative_attention_num_buckets=8, relative_attention_max_distance=128,
                    feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0,
                    tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)


def tiny_t5(seed: int = 2) -> T5EncoderModel:
    return randomize(T5EncoderModel(tiny_t5_config()), seed)


def tiny_clip_config() -> CLIPTextConfig:
    # hidden 64 -> 1 head is what shape inference assumes (hidden // 64)
    return CLIPTextConfig(vocab_size=CLIP_VOCAB, hidden_size=64, intermediate_size=37, num_hidden_layers=2,
                          num_attention_heads=1, max_position_embeddings=77, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1, projection_dim=64)


def tiny_clip(seed: int = 3) -> CLIPTextModel:
    return randomize(CLIPTextModel(tiny_clip_config()), seed)


def flux_inputs(model_params: FluxParams, seed: int = 5):
    """B=2, 5 text tokens, a non-square 4x6 patch grid, different t per sample."""
    g = torch.Generator().manual_seed(seed)
    h, w = 4, 6
    img = torch.randn(2, h * w, model_params.in_channels, generator=g)
    ids = torch.zeros(h, w, 3)
    ids[..., 1] = torch.arange(h)[:, None]
    ids[..., 2] = torch.arange(w)[None, :]
    img_ids = ids.reshape(1, h * w, 3).repeat(2, 1, 1)
    txt = torch.randn(2, 5, model_params.context_in_dim, generator=g)
    txt_ids = torch.zeros(2, 5, 3)
    y = torch.randn(2, model_params.vec_in_dim, generator=g)
    return dict(img=img, img_ids=img_ids, txt=txt, txt_ids=txt_ids, timesteps=torch.tensor([0.7, 0.3]), y=y,
                guidance=torch.tensor([3.5, 2.0]) if model_params.guidance_embed else None)


def run_flux(model, inputs, dtype=torch.float32):
    cast = {k: (v.to(dtype) if k in ("img", "txt", "y") else v) for k, v in inputs.items()}
    return model(**cast)


def image(seed: int = 6, size=(16, 24)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *size, generator=g) * 2 - 1


def t5_ids(seed: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 32000, (2, 12), generator=g)
    ids[:, 8] = 1
    ids[:, 9:] = 0
    return ids


def clip_ids(seed: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 49000, (2, 77), generator=g)
    ids[:, 0] = 49406
    ids[:, 10:] = 49407
    return ids


def save(path, tensors: dict, config: dict | None = None) -> None:
    """Write tensors (made contiguous, tied ones untied) with an optional fluxwire.config entry."""
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    metadata = {"fluxwire.config": json.dumps(config)} if config is not None else None
    save_file(tensors, str(path), metadata=metadata)


def prefixed(state_dict: dict, prefix: str) -> dict:
    return {prefix + k: v for k, v in state_dict.items()}


def t5_file_dict(t5: T5EncoderModel) -> dict:
    """The T5 keys a ComfyUI t5xxl file holds: shared.weight once, no duplicate embed_tokens."""
    return {k: v for k, v in t5.state_dict().items() if k != "encoder.embed_tokens.weight"}


def clip_file_dict(clip: CLIPTextModel, text_model_prefix: bool = True) -> dict:
    """CLIP keys in transformers-4 layout (``text_model.`` prefix), as real clip_l files have them."""
    sd = clip.state_dict()
    return prefixed(sd, "text_model.") if text_model_prefix else dict(sd)


from pathlib import Path  # noqa: E402

SHARED_TOKENIZERS = Path("/work/shared/data/tokenizers")  # real tokenizer folders (tests only)


def assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Same function, same weights: equal up to float summation order.

    Weights used in place from a memory-mapped file sit at other memory alignments than the
    writer's, and multi-threaded CPU kernels may then sum in another order (observed: 7.6e-6 at
    magnitude 30 with 2 threads; bit-equal with 1). Any real loading bug is orders of magnitude larger.
    """
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if actual.dtype == torch.float32:
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    else:
        torch.testing.assert_close(actual, expected)
