"""GGUF weights (ComfyUI-GGUF layout): decoded equal to the gguf package's numpy reference, kept quantized
in memory, and computing what the dequantized weights compute."""
import copy

import numpy as np
import pytest
import torch

from flux_core.loading import ModelLoadError, load_diffusion_model, load_text_encoders
from flux_core.loading.gguf_file import open_gguf
from flux_core.loading.gguf_linear import QuantLinear
from gguf_fixtures import (
    K_QUANTS,
    QUANTIZABLE,
    llama_t5_name,
    qtype,
    random_blocks,
    reference_dequantized,
    write_gguf,
)
from loading_fixtures import (
    assert_same,
    clip_file_dict,
    flux_inputs,
    run_flux,
    save,
    t5_file_dict,
    t5_ids,
    tiny_clip,
    tiny_flux,
    tiny_t5,
)

# relative L2 error of the tiny random FLUX transformer's output against its fp32 self, per storage type.
# Measured (seeds 0/1): F16 8.3e-4/8.5e-4, BF16 5.4e-3/9.1e-3, Q8_0 2.2e-2/2.7e-2, Q5_1 0.16/0.16,
# Q5_0 0.20/0.22, Q4_1 0.30/0.44, Q4_0 0.31/0.43 (a random 4-block net amplifies weight error; the
# exactness check against the decoded weights is the correctness test, these bounds catch gross loss).
MODEL_ERROR_BOUND = {"F16": 2e-3, "BF16": 2e-2, "Q8_0": 5e-2, "Q5_1": 0.3, "Q5_0": 0.4, "Q4_1": 0.8,
                     "Q4_0": 0.8}


@pytest.fixture(autouse=True)
def same_kernels(monkeypatch):
    """Quantized layers decode and call F.linear; the reference must not take the oneDNN path."""
    import flux_core.models.layers as layers

    monkeypatch.setattr(layers, "_ONEDNN_LINEAR", None)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("kind", QUANTIZABLE)
def test_quantized_values_decode_equal_to_the_numpy_reference(tmp_path, kind):
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 256, generator=g)
    path = tmp_path / f"w-{kind}.gguf"
    write_gguf(path, {"layer.weight": weight, "layer.bias": torch.randn(8, generator=g)}, kind, "flux")
    lazy, meta = open_gguf(path)
    assert meta["general.architecture"] == "flux"
    assert lazy["layer.weight"].shape == (8, 256)
    expected = reference_dequantized(path)["layer.weight"]
    assert torch.equal(lazy["layer.weight"].load().float(), expected)
    if kind not in ("F16", "BF16"):
        assert lazy["layer.weight"].quantized.qtype == kind
        assert lazy["layer.weight"].quantized.raw().dtype == torch.uint8


@pytest.mark.parametrize("kind", K_QUANTS + ("Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0"))
def test_raw_blocks_of_every_quant_type_decode_equal_to_the_numpy_reference(tmp_path, kind):
    """K-quants cannot be encoded by the gguf package: random valid blocks go through a real file."""
    import gguf

    blocks = random_blocks(kind, 6, 512, seed=len(kind))
    path = tmp_path / f"raw-{kind}.gguf"
    writer = gguf.GGUFWriter(str(path), "flux")
    writer.add_tensor("blocks.weight", blocks, raw_dtype=qtype(kind))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    lazy, _ = open_gguf(path)
    expected = reference_dequantized(path)["blocks.weight"]
    decoded = lazy["blocks.weight"].load()
    assert decoded.shape == (6, 512) and torch.isfinite(expected).all()
    assert torch.equal(decoded, expected)
    layer = QuantLinear(512, 6, bias=False, qtype=kind)
    layer.weight = torch.nn.Parameter(lazy["blocks.weight"].quantized.raw(), requires_grad=False)
    assert torch.equal(layer.expanded_weight(torch.float32), expected)
    x = torch.randn(3, 512)
    assert torch.equal(layer(x), torch.nn.functional.linear(x, expected))


def _reference_module(source, path):
    """The source model with every weight replaced by what the file encodes (numpy's decoding)."""
    reference = copy.deepcopy(source)
    decoded = reference_dequantized(path)
    state = reference.state_dict()
    reference.load_state_dict({k: decoded[k].reshape(state[k].shape) for k in state})
    return reference


@pytest.mark.parametrize("kind", QUANTIZABLE)
def test_flux_transformer_from_gguf_stays_quantized_and_computes_the_decoded_weights(tmp_path, kind):
    source = tiny_flux()
    path = tmp_path / f"flux1-dev-{kind}.gguf"
    stored = write_gguf(path, source.state_dict(), kind, "flux", config={"axes_dim": [4, 14, 14]})
    model = load_diffusion_model(path, device="cpu")
    quantized = {n for n, m in model.named_modules() if isinstance(m, QuantLinear)}
    expected_quantized = {k.removesuffix(".weight") for k, v in stored.items() if v not in ("F32", "F16", "BF16")}
    assert quantized == expected_quantized
    if kind not in ("F16", "BF16"):
        assert quantized and all(model.get_submodule(n).weight.dtype == torch.uint8 for n in quantized)
        file_bytes = sum(m.weight.numel() for n, m in model.named_modules() if n in quantized)
        plain_bytes = sum(source.get_submodule(n).weight.numel() * 4 for n in quantized)
        assert file_bytes < plain_bytes / 3  # the weights stay compact in memory
    inputs = flux_inputs(source.params)
    out = run_flux(model, inputs)
    assert_same(out, run_flux(_reference_module(source, path), inputs))
    error = _relative_error(out, run_flux(source, inputs))
    assert 0 < error < MODEL_ERROR_BOUND[kind], f"{kind}: relative error {error:.2e}"


def test_a_plain_dtype_request_expands_gguf_weights_once(tmp_path):
    source = tiny_flux()
    path = tmp_path / "flux.gguf"
    write_gguf(path, source.state_dict(), "Q8_0", "flux", config={"axes_dim": [4, 14, 14]})
    model = load_diffusion_model(path, dtype="fp32", device="cpu")
    assert not any(isinstance(m, QuantLinear) for m in model.modules())
    inputs = flux_inputs(source.params)
    assert_same(run_flux(model, inputs), run_flux(_reference_module(source, path), inputs))


def test_t5_with_llama_cpp_names_loads_with_comfyui_gguf_renames(tmp_path, models_dir):
    t5, clip = tiny_t5(), tiny_clip()
    sd = {llama_t5_name(k): v for k, v in t5_file_dict(t5).items()}
    assert "enc.blk.0.attn_q.weight" in sd and "token_embd.weight" in sd
    t5_path = tmp_path / "t5-v1_1-xxl-encoder-Q8_0.gguf"
    write_gguf(t5_path, sd, "Q8_0", "t5encoder", config={"relative_attention_num_buckets": 8},
               quantize_only=lambda name, t: True)
    clip_path = tmp_path / "clip_l.safetensors"
    save(clip_path, clip_file_dict(clip), {"num_attention_heads": 1})
    conditioner = load_text_encoders(t5_path, clip_path, device="cpu", models_dir=models_dir)
    quantized = {n for n, m in conditioner.t5.named_modules() if isinstance(m, QuantLinear)}
    assert "encoder.block.0.layer.0.SelfAttention.q" in quantized
    assert not any(n.endswith("DenseReluDense.wo") for n in quantized)  # transformers casts activations to wo
    reference = copy.deepcopy(t5)
    decoded = reference_dequantized(t5_path)
    names = {llama_t5_name(k): k for k in reference.state_dict()}
    reference.load_state_dict({names[k]: v.reshape(reference.state_dict()[names[k]].shape)
                               for k, v in decoded.items()}, strict=False)
    reference.encoder.embed_tokens = reference.shared
    ids = t5_ids()
    ours = conditioner.t5(input_ids=ids).last_hidden_state
    assert_same(ours, reference(input_ids=ids).last_hidden_state)
    original = t5(input_ids=ids).last_hidden_state
    assert 0 < _relative_error(ours, original) < 0.1  # measured 4.4e-2 for this random 2-layer T5 in Q8_0


def test_a_broken_or_unsupported_gguf_file_names_the_file(tmp_path):
    import gguf

    bad = tmp_path / "flux1-dev-Q4_0.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 5)
    with pytest.raises(ModelLoadError, match="flux1-dev-Q4_0.gguf"):
        load_diffusion_model(bad, device="cpu")
    odd = tmp_path / "iq.gguf"
    writer = gguf.GGUFWriter(str(odd), "flux")
    writer.add_tensor("w.weight", np.zeros((2, 18), dtype=np.uint8), raw_dtype=qtype("IQ4_NL"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelLoadError, match="IQ4_NL"):
        load_diffusion_model(odd, device="cpu")
