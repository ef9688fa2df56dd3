"""Reduced precision: fp16 activation clamping (flux-spec §6) and a bf16 smoke test (parity-plan §4, optional row)."""
import pytest
import torch

from flux_core import sampling
from flux_core.models import layers

from .helpers import bfl_to_diffusers
from .test_transformer import build_pair, make_inputs, run_reference

pytestmark = pytest.mark.parity


def _block_inputs(ours, dtype):
    g = torch.Generator().manual_seed(4)
    d = ours.params.hidden_size
    img = torch.randn(1, 24, d, generator=g).to(dtype)
    txt = torch.full((1, 5, d), 65000.0).to(dtype)  # near the fp16 maximum
    vec = torch.randn(1, d, generator=g).to(dtype)
    ids = torch.cat([sampling.txt_ids(1, 5), sampling.img_ids(1, 8, 12)], dim=1)
    return img, txt, vec, ids


def _push_over_fp16_max(ours):
    """Make the last residual add of double block 0 (txt) and single block 0 overflow fp16."""
    d = ours.params.hidden_size
    with torch.no_grad():
        blk = ours.double_blocks[0]
        blk.txt_mod.lin.weight.zero_()
        blk.txt_mod.lin.bias.zero_()
        blk.txt_mod.lin.bias[5 * d:] = 1.0  # gate of the MLP branch, the block's last residual add
        blk.txt_mlp[2].bias.fill_(2000.0)
        single = ours.single_blocks[0]
        single.modulation.lin.weight.zero_()
        single.modulation.lin.bias.zero_()
        single.modulation.lin.bias[2 * d:] = 1.0
        single.linear2.bias.fill_(2000.0)


@pytest.mark.parametrize("clamp", [True, False], ids=["clamped", "without-clamp"])
def test_fp16_blocks_clamp_like_diffusers(clamp, monkeypatch):
    ours, ref = build_pair(True)
    _push_over_fp16_max(ours)
    ref.load_state_dict(bfl_to_diffusers(ours.state_dict()), strict=True)
    ours.half()
    ref.half()
    if not clamp:  # the injected bug: no clamping; the test below must then see infinities
        monkeypatch.setattr(layers, "clamp_fp16", lambda x: x)
    img, txt, vec, ids = _block_inputs(ours, torch.float16)
    pe = ours.pe_embedder(ids)
    ref_pe = ref.pos_embed(ids[0])

    _, txt_out = ours.double_blocks[0](img, txt, vec, pe)
    ref_txt, _ = ref.transformer_blocks[0](
        hidden_states=img, encoder_hidden_states=txt, temb=vec, image_rotary_emb=ref_pe
    )
    x = torch.cat([txt, img], dim=1)
    x_out = ours.single_blocks[0](x, vec, pe)
    ref_single = torch.cat(ref.single_transformer_blocks[0](img, txt, vec, image_rotary_emb=ref_pe), dim=1)

    assert torch.isfinite(ref_txt).all() and torch.isfinite(ref_single).all()
    if clamp:
        assert torch.equal(txt_out, ref_txt)
        assert txt_out.max() == 65504
        torch.testing.assert_close(x_out.float(), ref_single.float(), rtol=1e-3, atol=1e-2)
    else:
        assert not torch.isfinite(txt_out).all() and not torch.isfinite(x_out).all()


def test_bf16_smoke_against_diffusers_and_fp32():
    ours, ref = build_pair(True)
    inp = make_inputs(ours.params)
    inp["timesteps"] = torch.tensor([0.5, 0.25])  # bf16-exact, see flux-spec §6
    inp["guidance"] = torch.tensor([2.0, 2.0])
    full = ours(**inp)
    ours.to(torch.bfloat16)
    ref.to(torch.bfloat16)
    low = {k: v.to(torch.bfloat16) if k in ("img", "txt", "y", "timesteps", "guidance") else v for k, v in inp.items()}
    out = ours(**low)
    assert out.dtype == torch.bfloat16
    expected = run_reference(ref, low).float()

    def rel(a, b):
        return ((a.float() - b).norm() / b.norm()).item()

    cos = torch.nn.functional.cosine_similarity(out.float().flatten(), expected.flatten(), dim=0)
    assert rel(out, expected) < 3e-2 and cos > 0.999
    assert rel(out, full) < 3e-2


@pytest.mark.parametrize("block", [256, 7])  # 7: several query blocks, the last one partial
def test_bf16_cpu_attention_is_fp32_attention_of_the_bf16_inputs(block, monkeypatch):
    monkeypatch.setattr(layers, "ATTENTION_QUERY_BLOCK", block)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 16, generator=g).mul(2).to(torch.bfloat16) for _ in range(3))
    out = layers._attention_bf16_cpu(q, k, v)
    exact = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double())
    exact = exact.transpose(1, 2).flatten(2)
    assert out.shape == (2, 40, 48) and out.dtype == torch.bfloat16
    # only the final rounding to bf16 separates it from exact attention on the same inputs
    torch.testing.assert_close(out.double(), exact, rtol=2**-8, atol=1e-6)
    flash = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
    assert (out.double() - exact).norm() <= (flash.double() - exact).norm() * 1.01
