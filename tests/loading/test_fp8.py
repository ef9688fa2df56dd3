"""fp8 and ComfyUI scaled-fp8 weights: stored in fp8, computed exactly as with weights upcast by hand."""
import copy

import pytest
import torch
from torch import nn

from flux_core.loading import CastLinear, load_diffusion_model, load_text_encoders, module_compute_dtype
from loading_fixtures import (
    assert_same,
    clip_ids,
    flux_inputs,
    prefixed,
    run_flux,
    save,
    t5_ids,
    tiny_clip,
    tiny_flux,
    tiny_t5,
)

FP8 = [torch.float8_e4m3fn, torch.float8_e5m2]


@pytest.fixture(autouse=True)
def same_kernels(monkeypatch):
    """These tests compare weight storage, not kernels: fp8 layers upcast and call F.linear, so the
    reference (plain fp32/bf16 weights) must not take the oneDNN fast path, whose rounding differs."""
    import flux_core.models.layers as layers

    monkeypatch.setattr(layers, "_ONEDNN_LINEAR", None)
FP8_MAX = {torch.float8_e4m3fn: 448.0, torch.float8_e5m2: 57344.0}


def linear_weight_keys(module: nn.Module, exclude=()) -> set[str]:
    return {f"{n}.weight" for n, m in module.named_modules() if isinstance(m, nn.Linear) and not n.endswith(exclude)}


def fp8_state(module, fp8, exclude=(), scaled=False):
    """(file tensors, reference module whose linear weights equal what the file encodes, upcast by hand)."""
    reference = copy.deepcopy(module)
    file = dict(module.state_dict())
    ref_params = dict(reference.named_parameters())
    for key in linear_weight_keys(module, exclude):
        w = file[key]
        if scaled:
            scale = (w.abs().max() / FP8_MAX[fp8]).reshape(())
            stored = (w / scale).to(fp8)
            file[key.removesuffix("weight") + "scale_weight"] = scale
            ref_params[key].data.copy_(stored.to(torch.float32) * scale)
        else:
            stored = w.to(fp8)
            ref_params[key].data.copy_(stored.to(torch.float32))
        file[key] = stored
    return file, reference


@pytest.mark.parametrize("fp8", FP8)
def test_fp8_transformer_stays_fp8_and_is_exact(tmp_path, fp8):
    source = tiny_flux()
    file, reference = fp8_state(source, fp8)
    save(tmp_path / "flux-fp8.safetensors", file)
    model = load_diffusion_model(tmp_path / "flux-fp8.safetensors", device="cpu")
    for key in linear_weight_keys(source):
        assert model.get_parameter(key).dtype == fp8, key
        assert model.get_parameter(key).untyped_storage().nbytes() == model.get_parameter(key).numel()
    assert model.double_blocks[0].img_attn.norm.query_norm.scale.dtype == torch.float32
    assert module_compute_dtype(model) == torch.float32
    inputs = flux_inputs(source.params)
    assert_same(run_flux(model, inputs), run_flux(reference, inputs))
    assert not torch.allclose(run_flux(model, inputs), run_flux(source, inputs), atol=1e-3)  # fp8 rounding is visible


def test_scaled_fp8_checkpoint_part(tmp_path):
    source = tiny_flux()
    file, reference = fp8_state(source, torch.float8_e4m3fn, scaled=True)
    file["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    file["img_in.scale_input"] = torch.tensor(1.0)  # present in some files, not needed without fp8 matmuls
    file["txt_in.weight_scale"] = file.pop("txt_in.scale_weight").reshape(1)  # newer name, shape [1]
    path = tmp_path / "flux1-dev-fp8-scaled.safetensors"
    save(path, prefixed(file, "model.diffusion_model."))
    model = load_diffusion_model(path, device="cpu")
    assert isinstance(model.img_in, CastLinear) and model.img_in.weight.dtype == torch.float8_e4m3fn
    assert torch.equal(model.img_in.scale_weight, file["img_in.scale_weight"])
    assert torch.equal(model.txt_in.scale_weight, file["txt_in.weight_scale"])
    inputs = flux_inputs(source.params)
    assert_same(run_flux(model, inputs), run_flux(reference, inputs))
    # asking for a plain dtype folds the scales into upcast weights once
    merged = load_diffusion_model(path, dtype="fp32", device="cpu")
    assert not any(isinstance(m, CastLinear) for m in merged.modules())
    assert {p.dtype for p in merged.parameters()} == {torch.float32}
    torch.testing.assert_close(run_flux(merged, inputs), run_flux(reference, inputs), rtol=1e-5, atol=1e-5)


def test_fp8_storage_requested_for_fp32_file(tmp_path):
    source = tiny_flux(False)
    save(tmp_path / "flux.safetensors", source.state_dict())
    model = load_diffusion_model(tmp_path / "flux.safetensors", dtype="fp8_e5m2", device="cpu")
    _, reference = fp8_state(source, torch.float8_e5m2)
    assert model.final_layer.linear.weight.dtype == torch.float8_e5m2
    assert model.final_layer.linear.bias.dtype == torch.float32
    inputs = flux_inputs(source.params)
    assert_same(run_flux(model, inputs), run_flux(reference, inputs))


def test_fp8_transformer_in_bf16_compute(tmp_path):
    source = tiny_flux()
    file, reference = fp8_state(source, torch.float8_e4m3fn)
    save(tmp_path / "flux-fp8.safetensors", file)
    model = load_diffusion_model(tmp_path / "flux-fp8.safetensors", device="cpu")
    reference_bf16 = reference.to(torch.bfloat16)  # fp8 -> bf16 is exact, so this is the same weights
    for m in (model,):
        for p in m.parameters():
            if p.dtype == torch.float32:
                p.data = p.data.to(torch.bfloat16)
    inputs = flux_inputs(source.params)
    assert_same(run_flux(model, inputs, torch.bfloat16), run_flux(reference_bf16, inputs, torch.bfloat16))


@pytest.mark.parametrize("scaled", [False, True])
def test_fp8_text_encoders(tmp_path, models_dir, scaled):
    t5, clip = tiny_t5(), tiny_clip()
    t5_file, t5_ref = fp8_state(t5, torch.float8_e4m3fn, scaled=scaled)
    clip_file, clip_ref = fp8_state(clip, torch.float8_e4m3fn)
    t5_file = {k: v for k, v in t5_file.items() if k != "encoder.embed_tokens.weight"}
    if scaled:
        t5_file["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    save(tmp_path / "t5xxl_fp8_e4m3fn.safetensors", t5_file)
    save(tmp_path / "clip_l.safetensors", clip_file_dict_from(clip_file))
    cond = load_text_encoders(tmp_path / "t5xxl_fp8_e4m3fn.safetensors", tmp_path / "clip_l.safetensors",
                              device="cpu", models_dir=models_dir)
    q = cond.t5.encoder.block[0].layer[0].SelfAttention.q
    assert isinstance(q, CastLinear) and q.weight.dtype == torch.float8_e4m3fn
    wo = cond.t5.encoder.block[0].layer[1].DenseReluDense.wo
    assert wo.weight.dtype == torch.float32  # transformers casts activations to wo's dtype: never fp8
    assert cond.clip.encoder.layers[0].mlp.fc1.weight.dtype == torch.float8_e4m3fn
    assert_same(cond.t5(input_ids=t5_ids()).last_hidden_state, t5_ref(input_ids=t5_ids()).last_hidden_state)
    assert_same(cond.clip(input_ids=clip_ids()).pooler_output, clip_ref(input_ids=clip_ids()).pooler_output)


def clip_file_dict_from(state):
    return {"text_model." + k: v for k, v in state.items()}


def test_fp8_vae_is_upcast_for_convolutions(tmp_path):
    from flux_core.loading import load_vae
    from loading_fixtures import image, tiny_ae

    source = tiny_ae()
    reference = copy.deepcopy(source)
    file = {}
    for (key, value), p in zip(source.state_dict().items(), reference.parameters()):
        file[key] = value.to(torch.float8_e4m3fn)
        p.data.copy_(file[key].to(torch.float32))
    save(tmp_path / "ae-fp8.safetensors", file)
    for dtype in (None, "fp8_e4m3fn"):
        vae = load_vae(tmp_path / "ae-fp8.safetensors", dtype=dtype, device="cpu")
        assert {p.dtype for p in vae.parameters()} == {torch.float32}
        assert_same(vae.encode(image()), reference.encode(image()))


def test_fp8_all_in_one_checkpoint(tmp_path, models_dir):
    """Like the circulating fp8 dev files: fp8 transformer (scaled), fp8 T5 linears, fp16 CLIP, bf16 VAE."""
    from flux_core.loading import load_checkpoint
    from loading_fixtures import image, tiny_ae

    flux, ae, t5, clip = tiny_flux(), tiny_ae(), tiny_t5(), tiny_clip()
    flux_file, flux_ref = fp8_state(flux, torch.float8_e4m3fn, scaled=True)
    flux_file["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    t5_file, t5_ref = fp8_state(t5, torch.float8_e4m3fn)
    t5_file.pop("encoder.embed_tokens.weight")
    sd = prefixed(flux_file, "model.diffusion_model.")
    sd.update(prefixed({k: v.to(torch.bfloat16) for k, v in ae.state_dict().items()}, "vae."))
    sd.update(prefixed(t5_file, "text_encoders.t5xxl.transformer."))
    sd.update(prefixed({"text_model." + k: v.half() for k, v in clip.state_dict().items()},
                       "text_encoders.clip_l.transformer."))
    save(tmp_path / "flux1-dev-fp8.safetensors", sd)
    model, cond, vae = load_checkpoint(tmp_path / "flux1-dev-fp8.safetensors", device="cpu", models_dir=models_dir)
    assert model.double_blocks[1].img_mlp[0].weight.dtype == torch.float8_e4m3fn
    assert {p.dtype for p in vae.parameters()} == {torch.float32}
    assert cond.t5.encoder.block[1].layer[0].SelfAttention.k.weight.dtype == torch.float8_e4m3fn
    assert {p.dtype for p in cond.clip.parameters()} == {torch.float32}
    inputs = flux_inputs(flux.params)
    assert_same(run_flux(model, inputs), run_flux(flux_ref, inputs))
    assert_same(cond.t5(input_ids=t5_ids()).last_hidden_state, t5_ref(input_ids=t5_ids()).last_hidden_state)
    ae_ref = copy.deepcopy(ae)
    for p in ae_ref.parameters():
        p.data = p.data.to(torch.bfloat16).float()
    assert_same(vae.encode(image()), ae_ref.encode(image()))
    assert cond.t5_max_length == 512


def test_weight_expansion_once_and_per_layer_compute_the_same(tmp_path):
    """Both fp8 expansion modes give the very same numbers; "once" keeps one expanded copy per layer,
    refreshed when the stored weight changes, "per_layer" keeps none."""
    from flux_core.loading import expansion_bytes, set_weight_expansion, weight_expansion

    source = tiny_flux()
    file, reference = fp8_state(source, torch.float8_e4m3fn, scaled=True)
    file["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    save(tmp_path / "flux-fp8-scaled.safetensors", file)
    model = load_diffusion_model(tmp_path / "flux-fp8-scaled.safetensors", device="cpu")
    assert weight_expansion(model) == "once"  # the default on CPU when it fits (a tiny model always does)
    layers = [m for m in model.modules() if isinstance(m, CastLinear)]
    assert all(m.expanded_weight is None for m in layers)  # nothing expanded before the first call
    inputs = flux_inputs(source.params)
    expected = run_flux(reference, inputs)

    assert set_weight_expansion(model, "per_layer") == 0
    assert_same(run_flux(model, inputs), expected)
    assert all(m.expanded_weight is None for m in layers)

    kept = set_weight_expansion(model, "once")
    assert kept == expansion_bytes(model) == sum(m.weight.numel() * 4 for m in layers)
    assert all(m.expanded_weight.dtype == torch.float32 for m in layers)
    assert_same(run_flux(model, inputs), expected)
    assert "expanded_weight" not in "".join(model.state_dict())

    # a changed stored weight is expanded again, in either mode
    with torch.no_grad():
        model.img_in.weight.copy_((model.img_in.weight.float() * 0.5).to(torch.float8_e4m3fn))
        reference.img_in.weight.mul_(0.5)
    once = run_flux(model, inputs)
    set_weight_expansion(model, "per_layer")
    assert torch.equal(once, run_flux(model, inputs))
    assert_same(once, run_flux(reference, inputs))
    with pytest.raises(ValueError, match="per_layer"):
        set_weight_expansion(model, "sometimes")
