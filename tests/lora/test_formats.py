"""Every LoRA layout, written from one random low-rank update, loads to the same effective weights; what
does not match is reported by name; unreadable files and LoRAs that match nothing are clear errors."""
import pytest
import torch
from safetensors.torch import save_file

from flux_core.lora import (LoRAError, LoRALinear, apply_to_model, convert, effective_weights, load_lora)

from . import layouts

HIDDEN = 32
ALL_LAYERS = [*layouts.DOUBLE, *layouts.SINGLE, *layouts.TOP]
XLABS_LAYERS = list(layouts.XLABS_DOUBLE)

WRITERS = {
    "BFL/ComfyUI lora_A": lambda u: layouts.bfl_comfy(u),
    "ComfyUI lora_up/down": lambda u: layouts.bfl_comfy(u, style="lora_up"),
    "BFL names, no prefix": lambda u: layouts.bfl_comfy(u, prefix=""),
    "kohya": layouts.kohya,
    "kohya diffusers names": lambda u: layouts.kohya_diffusers_names(u, HIDDEN),
    "diffusers/PEFT": lambda u: layouts.diffusers_peft(u, HIDDEN),
    "ai-toolkit": lambda u: layouts.ai_toolkit(u, HIDDEN),
}
EXPECTED_FORMAT = {
    "BFL/ComfyUI lora_A": "BFL/ComfyUI", "ComfyUI lora_up/down": "BFL/ComfyUI", "BFL names, no prefix": "BFL names",
    "kohya": "kohya/sd-scripts", "kohya diffusers names": "kohya (diffusers names)",
    "diffusers/PEFT": "diffusers/PEFT", "ai-toolkit": "ai-toolkit/SimpleTuner (diffusers names, lora_down/up)",
    "XLabs": "XLabs",
}


def assert_effective(model, patched, update, strength=1.0):
    expected = layouts.effective(model, update, strength)
    got = effective_weights(patched)
    base = effective_weights(model)
    for name, (w, b) in got.items():
        want = expected.get(name, base[name][0])
        torch.testing.assert_close(w, want, rtol=0, atol=1e-5, msg=f"{name}")
        torch.testing.assert_close(b, base[name][1], rtol=0, atol=0)


@pytest.mark.parametrize("layout", [*WRITERS, "XLabs"])
def test_every_layout_loads_to_the_same_effective_weights(tiny_model, layout, tmp_path):
    layers = XLABS_LAYERS if layout == "XLabs" else ALL_LAYERS
    update = layouts.random_update(tiny_model, rank=4, alpha=2.0, seed=1, layers=layers)
    sd = layouts.xlabs(update) if layout == "XLabs" else WRITERS[layout](update)
    path = tmp_path / "lora.safetensors"
    layouts.save(sd, path)
    lora = load_lora(path, tiny_model)
    assert lora.unmatched == []
    assert lora.format == EXPECTED_FORMAT[layout]
    assert lora.layer_count("transformer") == len(update)
    assert "every key was applied" in lora.summary()
    for strength in (1.0, -1.0, 0.5):
        assert_effective(tiny_model, apply_to_model(tiny_model, [(lora, strength)]), update, strength)


def test_patching_never_touches_the_base_model(tiny_model):
    before = {k: (v.data_ptr(), v.clone()) for k, v in tiny_model.state_dict().items()}
    modules = dict(tiny_model.named_modules())
    update = layouts.random_update(tiny_model, seed=2, layers=ALL_LAYERS)
    patched = apply_to_model(tiny_model, [(convert(layouts.kohya(update), tiny_model), 1.0)])
    assert patched is not tiny_model
    assert isinstance(patched.double_blocks[0].img_attn.qkv, LoRALinear)
    assert not any(isinstance(m, LoRALinear) for m in tiny_model.modules())
    assert dict(tiny_model.named_modules()).keys() == modules.keys()
    for k, v in tiny_model.state_dict().items():
        assert v.data_ptr() == before[k][0] and torch.equal(v, before[k][1]), k
    # the copy shares the base tensors instead of duplicating them
    assert patched.double_blocks[0].img_attn.qkv.base.weight is tiny_model.double_blocks[0].img_attn.qkv.weight
    assert patched.guidance_in is tiny_model.guidance_in  # untouched branches are the same modules


def test_chained_loras_add_up_and_leave_the_first_copy_alone(tiny_model):
    u1 = layouts.random_update(tiny_model, seed=3, layers=ALL_LAYERS)
    u2 = layouts.random_update(tiny_model, seed=4, layers=["img_attn.qkv", "linear1"])
    first = apply_to_model(tiny_model, [(convert(layouts.kohya(u1), tiny_model), 0.5)])
    second = apply_to_model(first, [(convert(layouts.diffusers_peft(u2, HIDDEN), first), -1.0)])
    assert_effective(tiny_model, first, u1, 0.5)
    want = layouts.effective(tiny_model, u1, 0.5)
    for name, (down, up, alpha) in u2.items():
        want[name] = want[name] - alpha / down.shape[0] * up @ down
    got = effective_weights(second)
    for name, w in want.items():
        torch.testing.assert_close(got[name][0], w, rtol=0, atol=1e-5)


def test_unmatched_keys_are_reported_by_name(tiny_model):
    update = layouts.random_update(tiny_model, seed=5, layers=["img_attn.qkv"])
    sd = layouts.kohya(update)
    sd["lora_unet_double_blocks_7_img_attn_qkv.lora_down.weight"] = torch.zeros(4, HIDDEN)  # no block 7
    sd["lora_unet_double_blocks_7_img_attn_qkv.lora_up.weight"] = torch.zeros(3 * HIDDEN, 4)
    sd["lora_unet_double_blocks_0_img_attn_proj.lora_down.weight"] = torch.zeros(4, 5)  # wrong width
    sd["lora_unet_double_blocks_0_img_attn_proj.lora_up.weight"] = torch.zeros(HIDDEN, 4)
    sd["lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight"] = torch.zeros(4, 8)  # no CLIP given
    sd["lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"] = torch.zeros(8, 4)
    sd["some.random.tensor"] = torch.zeros(3)
    lora = convert(sd, tiny_model, source="mixed.safetensors")
    text = lora.summary()
    assert lora.layer_count("transformer") == 2
    for key, why in [("lora_unet_double_blocks_7_img_attn_qkv.lora_down.weight", "no such layer"),
                     ("lora_unet_double_blocks_0_img_attn_proj.lora_up.weight", "5 inputs"),
                     ("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", "no CLIP-L given"),
                     ("some.random.tensor", "not a LoRA factor")]:
        assert any(u.startswith(key) and why in u for u in lora.unmatched), (key, lora.unmatched)
        assert key in text
    assert "7 keys matched nothing and were NOT applied" in text


def test_a_lora_that_matches_nothing_is_an_error_naming_the_file_and_keys(tiny_model, tmp_path):
    path = tmp_path / "sdxl-style.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 8),
               "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": torch.zeros(8, 4)}, str(path))
    with pytest.raises(LoRAError, match=r"sdxl-style\.safetensors.*no key.*lora_unet_down_blocks_0_attentions_0"):
        load_lora(path, tiny_model)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "empty"])
def test_corrupt_or_truncated_files_are_clear_errors(tiny_model, tmp_path, damage):
    good = tmp_path / "good.safetensors"
    layouts.save(layouts.kohya(layouts.random_update(tiny_model, seed=6, layers=["linear1"])), good)
    raw = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes({"truncated": raw[: len(raw) - 100], "garbage": b"\x00\xff" * 50,
                     "pickle": b"PK\x03\x04" + b"\x00" * 60, "empty": b""}[damage])
    with pytest.raises(LoRAError, match="bad.safetensors"):
        load_lora(bad, tiny_model)


def test_loha_and_lokr_factors_give_their_products(tiny_model):
    g = torch.Generator().manual_seed(7)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    w1a, w1b, w2a, w2b = r(3 * HIDDEN, 2), r(2, HIDDEN), r(3 * HIDDEN, 2), r(2, HIDDEN)
    k1, k2a, k2b = r(4, 2), r(3 * HIDDEN // 4, 3), r(3, HIDDEN // 2)
    sd = {"lora_unet_double_blocks_0_img_attn_qkv.hada_w1_a": w1a, "lora_unet_double_blocks_0_img_attn_qkv.hada_w1_b": w1b,
          "lora_unet_double_blocks_0_img_attn_qkv.hada_w2_a": w2a, "lora_unet_double_blocks_0_img_attn_qkv.hada_w2_b": w2b,
          "lora_unet_double_blocks_0_img_attn_qkv.alpha": torch.tensor(1.0),
          "lora_unet_double_blocks_1_txt_attn_qkv.lokr_w1": k1, "lora_unet_double_blocks_1_txt_attn_qkv.lokr_w2_a": k2a,
          "lora_unet_double_blocks_1_txt_attn_qkv.lokr_w2_b": k2b,
          "lora_unet_double_blocks_1_txt_attn_qkv.alpha": torch.tensor(6.0)}
    lora = convert(sd, tiny_model)
    assert lora.unmatched == [] and "LoHa" in lora.format and "LoKr" in lora.format
    got = effective_weights(apply_to_model(tiny_model, [(lora, 0.5)]))
    base = effective_weights(tiny_model)
    loha = (w1a.numpy() @ w1b.numpy()) * (w2a.numpy() @ w2b.numpy()) * (1.0 / 2)
    import numpy as np

    lokr = np.kron(k1.numpy(), k2a.numpy() @ k2b.numpy()) * (6.0 / 3)
    torch.testing.assert_close(got["double_blocks.0.img_attn.qkv"][0],
                               base["double_blocks.0.img_attn.qkv"][0] + 0.5 * torch.from_numpy(loha), atol=1e-5, rtol=0)
    torch.testing.assert_close(got["double_blocks.1.txt_attn.qkv"][0],
                               base["double_blocks.1.txt_attn.qkv"][0] + 0.5 * torch.from_numpy(lokr), atol=1e-5, rtol=0)


def test_patched_copy_follows_moves_of_its_blocks_and_of_the_base(tiny_model):
    """What a memory manager does: convert/move a block of the patched copy, or only the base's block."""
    from tests.parity.test_transformer import make_inputs

    update = layouts.random_update(tiny_model, seed=8, layers=ALL_LAYERS)
    lora = convert(layouts.kohya(update), tiny_model)
    inp = make_inputs(tiny_model.params)
    expected = apply_to_model(tiny_model, [(lora, 1.0)])(**inp)
    patched = apply_to_model(tiny_model, [(lora, 1.0)])
    patched.double_blocks[1].to(torch.float64)  # moves the LoRA buffers and the shared base weights
    assert patched.double_blocks[1].img_attn.qkv.applied[0].down.dtype == torch.float64
    assert tiny_model.double_blocks[1].img_attn.qkv.weight.dtype == torch.float64  # same parameter objects
    patched.double_blocks[1].to(torch.float32)
    torch.testing.assert_close(patched(**inp), expected, rtol=0, atol=0)
    tiny_model.single_blocks[0].to(torch.float64).to(torch.float32)  # the base alone: the copy still runs
    torch.testing.assert_close(patched(**inp), expected, rtol=0, atol=0)
