"""Applying LoRAs to what users really load: fp8 and scaled-fp8 transformers (delta in the compute dtype),
the T5 and CLIP text encoders (kohya lora_te1/lora_te2 and diffusers text_encoder/text_encoder_2 keys),
and BFL control LoRAs (wider img_in, full-weight norms)."""
import copy

import pytest
import torch
from torch import nn

from flux_core.loading import load_diffusion_model, load_text_encoders
from flux_core.lora import apply_to_model, apply_to_text_encoders, convert, effective_weights
from flux_core.mini import MODELS_DIR
from flux_core.models import Flux
from tests.parity.test_transformer import make_inputs

from . import layouts
from .test_formats import ALL_LAYERS

FP8_MAX = 448.0


def fp8_file(model: nn.Module, scaled: bool) -> dict:
    sd = dict(model.state_dict())
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            w = sd[f"{name}.weight"]
            if scaled:
                scale = (w.abs().max() / FP8_MAX).reshape(())
                sd[f"{name}.weight"] = (w / scale).to(torch.float8_e4m3fn)
                sd[f"{name}.scale_weight"] = scale
            else:
                sd[f"{name}.weight"] = w.to(torch.float8_e4m3fn)
    if scaled:
        sd["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    return sd


def fp32_copy_with(model_params, weights: dict) -> Flux:
    """A plain fp32 Flux whose linear layers hold the given (weight, bias) pairs: the merged reference."""
    ref = Flux(model_params).eval()
    for name, (w, b) in weights.items():
        layer = ref.get_submodule(name)
        layer.weight.data.copy_(w)
        layer.bias.data.copy_(b)
    return ref


@pytest.mark.parametrize("scaled", [False, True], ids=["fp8", "scaled-fp8"])
def test_lora_on_fp8_weights_computes_the_delta_in_the_compute_dtype(tiny_model, tmp_path, scaled):
    layouts.save(fp8_file(tiny_model, scaled), tmp_path / "base.safetensors")
    base = load_diffusion_model(tmp_path / "base.safetensors", device="cpu").eval()
    qkv = base.double_blocks[0].img_attn.qkv
    assert qkv.weight.dtype == torch.float8_e4m3fn and (qkv.scale_weight is not None) == scaled
    # norms are not in the file as fp8: copy them so the reference sees the same values
    update = layouts.random_update(tiny_model, seed=21, layers=ALL_LAYERS, std=0.2)
    patched = apply_to_model(base, [(convert(layouts.kohya(update), base), 0.8)])
    assert patched.double_blocks[0].img_attn.qkv.base.weight.dtype == torch.float8_e4m3fn  # still fp8 storage
    merged = effective_weights(patched)
    reference = fp32_copy_with(base.params, merged)
    for name, p in base.named_parameters():
        if "norm" in name:
            reference.get_parameter(name).data.copy_(p.float())
    dequantized = effective_weights(base)["double_blocks.0.img_attn.qkv"][0]
    down, up, alpha = update["double_blocks.0.img_attn.qkv"]
    torch.testing.assert_close(merged["double_blocks.0.img_attn.qkv"][0],
                               dequantized + 0.8 * alpha / 4 * up @ down, rtol=0, atol=1e-5)
    inp = make_inputs(base.params)
    torch.testing.assert_close(patched(**inp), reference(**inp), rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def text():
    return load_text_encoders(MODELS_DIR / "text_encoders" / "flux-mini-t5.safetensors",
                              MODELS_DIR / "text_encoders" / "flux-mini-clip.safetensors", dtype="fp32",
                              device="cpu", models_dir=MODELS_DIR)


def _text_update(module, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear):
            out[name] = (0.2 * torch.randn(2, m.in_features, generator=g),
                         0.2 * torch.randn(m.out_features, 2, generator=g), 1.0)
    return out


def _merged(module, update, strength):
    ref = copy.deepcopy(module)
    for name, (down, up, alpha) in update.items():
        ref.get_submodule(name).weight.data += strength * alpha / down.shape[0] * up @ down
    return ref


@pytest.mark.parametrize("layout", ["kohya", "diffusers"])
def test_text_encoder_loras_match_transformers_models_with_merged_weights(text, layout):
    clip_u, t5_u = _text_update(text.clip, 31), _text_update(text.t5, 32)
    sd = {}
    for name, (down, up, alpha) in clip_u.items():
        key = ("lora_te1_text_model_" + name.replace(".", "_")) if layout == "kohya" else f"text_encoder.text_model.{name}"
        sd.update({f"{key}.lora_down.weight" if layout == "kohya" else f"{key}.lora_A.weight": down,
                   f"{key}.lora_up.weight" if layout == "kohya" else f"{key}.lora_B.weight": up * (
                       1 if layout == "kohya" else alpha / 2)})
        if layout == "kohya":
            sd[f"{key}.alpha"] = torch.tensor(alpha)
    for name, (down, up, alpha) in t5_u.items():
        key = ("lora_te2_" + name.replace(".", "_")) if layout == "kohya" else f"text_encoder_2.{name}"
        suffix = ("lora_down", "lora_up") if layout == "kohya" else ("lora_A", "lora_B")
        sd[f"{key}.{suffix[0]}.weight"] = down
        sd[f"{key}.{suffix[1]}.weight"] = up * (1 if layout == "kohya" else alpha / 2)
        if layout == "kohya":
            sd[f"{key}.alpha"] = torch.tensor(alpha)
    lora = convert(sd, None, text.clip, text.t5)
    assert lora.unmatched == [], lora.unmatched[:3]
    assert lora.layer_count("CLIP-L") == len(clip_u) and lora.layer_count("T5") == len(t5_u)
    patched = apply_to_text_encoders(text, [(lora, 0.6)])
    assert patched is not text and patched.clip is not text.clip
    prompts = ["a red circle on a blue background"]
    txt, vec = patched.encode(prompts, no_grad=True)
    base_txt, base_vec = text.encode(prompts, no_grad=True)
    ref_clip, ref_t5 = _merged(text.clip, clip_u, 0.6), _merged(text.t5, t5_u, 0.6)
    with torch.no_grad():
        want_txt = ref_t5(input_ids=text.t5_input_ids(prompts), attention_mask=None).last_hidden_state
        want_vec = ref_clip(input_ids=text.clip_input_ids(prompts), attention_mask=None).pooler_output
    assert (txt - base_txt).abs().max() > 1e-2 and (vec - base_vec).abs().max() > 1e-2
    torch.testing.assert_close(txt, want_txt, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(vec, want_vec, rtol=1e-4, atol=1e-4)
    assert torch.equal(text.encode(prompts, no_grad=True)[0], base_txt)  # the base encoders are untouched


def control_lora(model: nn.Module, extra_channels: int, seed: int = 41) -> dict:
    """A BFL control LoRA: lora_A/B (no prefix) for every linear, img_in reading more channels, norm scales."""
    update = layouts.random_update(model, rank=4, alpha=4.0, seed=seed, layers=ALL_LAYERS, std=0.2)
    g = torch.Generator().manual_seed(seed)
    down, up, alpha = update["img_in"]
    update["img_in"] = (torch.cat([down, 0.2 * torch.randn(4, extra_channels, generator=g)], dim=1), up, alpha)
    sd = {}
    for name, (down, up, _) in update.items():
        sd[f"{name}.lora_A.weight"] = down
        sd[f"{name}.lora_B.weight"] = up
    for name, p in model.named_parameters():
        if name.endswith("norm.scale"):
            sd[name] = 1 + 0.1 * torch.randn(p.shape, generator=g)
    return sd, update


def test_control_lora_widens_img_in_and_replaces_the_norms(tiny_model):
    sd, update = control_lora(tiny_model, extra_channels=16)
    lora = convert(sd, tiny_model, source="flux1-canny-dev-lora.safetensors")
    assert lora.is_control and lora.img_in_channels == 32 and lora.unmatched == []
    assert lora.format == "BFL control LoRA"
    assert "control LoRA: img_in widened to 32 input channels" in lora.summary()
    patched = apply_to_model(tiny_model, [(lora, 1.0)])
    assert patched.params.in_channels == 32 and tiny_model.params.in_channels == 16
    norm = "double_blocks.1.txt_attn.norm.key_norm.scale"
    assert torch.equal(patched.get_parameter(norm), sd[norm])
    assert not torch.equal(tiny_model.get_parameter(norm), sd[norm])  # the base keeps its own
    w = effective_weights(patched)["img_in"][0]
    down, up, alpha = update["img_in"]
    base_w = tiny_model.img_in.weight
    torch.testing.assert_close(w, torch.cat([base_w, torch.zeros(32, 16)], dim=1) + up @ down, rtol=0, atol=1e-5)
    inp = make_inputs(tiny_model.params)
    inp["img"] = torch.cat([inp["img"], torch.randn_like(inp["img"])], dim=-1)  # latent + control channels
    assert patched(**inp).shape == (2, 24, 16)
