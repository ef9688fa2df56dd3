"""parity-plan rows 7-8, §3 conversion checks and §5 negative tests: our Flux vs diffusers' FluxTransformer2DModel."""
import pytest
import torch
from diffusers import FluxTransformer2DModel

from flux_core import sampling
from flux_core.models import Flux, FluxParams
from flux_core.models import layers, transformer

from .helpers import bfl_to_diffusers, diffusers_to_bfl, diffusers_transformer_for, randomize_, tiny_flux_params

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
B, L, H, W = 2, 5, 8, 12  # latent 8x12 cells -> 4x6 patch grid (non-square)


def build_pair(guidance_embed: bool, seed: int = 0):
    params = tiny_flux_params(guidance_embed)
    ours = randomize_(Flux(params), seed=seed).eval()
    ref = diffusers_transformer_for(params).eval()
    ref.load_state_dict(bfl_to_diffusers(ours.state_dict()), strict=True)
    return ours, ref


def make_inputs(params: FluxParams, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return dict(
        img=torch.randn(B, (H // 2) * (W // 2), params.in_channels, generator=g),
        img_ids=sampling.img_ids(B, H, W),
        txt=torch.randn(B, L, params.context_in_dim, generator=g),
        txt_ids=sampling.txt_ids(B, L),
        timesteps=torch.tensor([0.7, 0.3]),
        y=torch.randn(B, params.vec_in_dim, generator=g),
        guidance=torch.tensor([3.5, 2.0]) if params.guidance_embed else None,
    )


def run_reference(ref, inp, guidance="same"):
    g = inp["guidance"] if guidance == "same" else guidance
    return ref(
        hidden_states=inp["img"],
        encoder_hidden_states=inp["txt"],
        pooled_projections=inp["y"],
        timestep=inp["timesteps"],
        img_ids=inp["img_ids"][0],
        txt_ids=inp["txt_ids"][0],
        guidance=g,
        return_dict=False,
    )[0]


@pytest.fixture(scope="module", params=[True, False], ids=["dev", "schnell"])
def pair(request):
    ours, ref = build_pair(request.param)
    inp = make_inputs(ours.params)
    with torch.no_grad():
        expected = run_reference(ref, inp)
    return ours, ref, inp, expected


def test_forward_matches_diffusers(pair):
    ours, _, inp, expected = pair
    out = ours(**inp)
    assert out.shape == (B, 24, 16)
    assert expected.abs().max() > 1.0  # non-trivial output
    torch.testing.assert_close(out, expected, **TOL)


def test_per_block_hidden_states_match(pair):
    ours, ref, inp, _ = pair
    got, want = [], []
    hooks = [b.register_forward_hook(lambda m, a, o: got.append(o)) for b in ours.double_blocks]
    hooks += [b.register_forward_hook(lambda m, a, o: got.append(o)) for b in ours.single_blocks]
    hooks += [b.register_forward_hook(lambda m, a, o: want.append(o)) for b in ref.transformer_blocks]
    hooks += [b.register_forward_hook(lambda m, a, o: want.append(o)) for b in ref.single_transformer_blocks]
    try:
        ours(**inp)
        run_reference(ref, inp)
    finally:
        for h in hooks:
            h.remove()
    depth = ours.params.depth
    for i in range(depth):  # ours (img, txt); diffusers (txt, img)
        torch.testing.assert_close(got[i][0], want[i][1], **TOL, msg=f"double block {i} img")
        torch.testing.assert_close(got[i][1], want[i][0], **TOL, msg=f"double block {i} txt")
    for i in range(ours.params.depth_single_blocks):  # ours [txt; img]; diffusers (txt, img)
        torch.testing.assert_close(got[depth + i], torch.cat(want[depth + i], dim=1), **TOL, msg=f"single block {i}")


def test_dev_model_without_guidance_raises():
    ours, _ = build_pair(True)
    inp = make_inputs(ours.params)
    inp["guidance"] = None
    with pytest.raises(ValueError, match="guidance"):
        ours(**inp)


def test_schnell_ignores_guidance():
    ours, _ = build_pair(False)
    inp = make_inputs(ours.params)
    a = ours(**inp)
    inp["guidance"] = torch.tensor([3.5, 3.5])
    assert torch.equal(ours(**inp), a)


def test_diffusers_bfl_round_trip_is_bit_exact():
    ref = randomize_(diffusers_transformer_for(tiny_flux_params(True)), seed=3)
    sd = ref.state_dict()
    bfl = diffusers_to_bfl(sd)
    ours = Flux(tiny_flux_params(True))
    ours.load_state_dict(bfl, strict=True)  # BFL names are exactly our parameter names
    back = bfl_to_diffusers(ours.state_dict())
    assert back.keys() == sd.keys()
    assert all(torch.equal(back[k], sd[k]) for k in sd)


# --- full-size key/shape check on the meta device (flux-spec §5.1) ----------------------------------


def spec_table(dev: bool) -> dict[str, tuple[int, ...]]:
    """flux-spec §5.1 written out as data."""
    D, M = 3072, 12288
    t = {
        "img_in.weight": (D, 64), "img_in.bias": (D,),
        "txt_in.weight": (D, 4096), "txt_in.bias": (D,),
        "time_in.in_layer.weight": (D, 256), "time_in.in_layer.bias": (D,),
        "time_in.out_layer.weight": (D, D), "time_in.out_layer.bias": (D,),
        "vector_in.in_layer.weight": (D, 768), "vector_in.in_layer.bias": (D,),
        "vector_in.out_layer.weight": (D, D), "vector_in.out_layer.bias": (D,),
        "final_layer.linear.weight": (64, D), "final_layer.linear.bias": (64,),
        "final_layer.adaLN_modulation.1.weight": (2 * D, D), "final_layer.adaLN_modulation.1.bias": (2 * D,),
    }  # fmt: skip
    if dev:
        t.update({
            "guidance_in.in_layer.weight": (D, 256), "guidance_in.in_layer.bias": (D,),
            "guidance_in.out_layer.weight": (D, D), "guidance_in.out_layer.bias": (D,),
        })  # fmt: skip
    for i in range(19):
        for s in ("img", "txt"):
            p = f"double_blocks.{i}.{s}_"
            t.update({
                p + "mod.lin.weight": (6 * D, D), p + "mod.lin.bias": (6 * D,),
                p + "attn.qkv.weight": (3 * D, D), p + "attn.qkv.bias": (3 * D,),
                p + "attn.norm.query_norm.scale": (128,), p + "attn.norm.key_norm.scale": (128,),
                p + "attn.proj.weight": (D, D), p + "attn.proj.bias": (D,),
                p + "mlp.0.weight": (M, D), p + "mlp.0.bias": (M,),
                p + "mlp.2.weight": (D, M), p + "mlp.2.bias": (D,),
            })  # fmt: skip
    for i in range(38):
        p = f"single_blocks.{i}."
        t.update({
            p + "linear1.weight": (3 * D + M, D), p + "linear1.bias": (3 * D + M,),
            p + "linear2.weight": (D, D + M), p + "linear2.bias": (D,),
            p + "norm.query_norm.scale": (128,), p + "norm.key_norm.scale": (128,),
            p + "modulation.lin.weight": (3 * D, D), p + "modulation.lin.bias": (3 * D,),
        })  # fmt: skip
    return t


@pytest.mark.parametrize("variant", ["dev", "schnell"])
def test_full_size_keys_and_shapes_on_meta(variant):
    dev = variant == "dev"
    with torch.device("meta"):
        ours = Flux(FluxParams.dev() if dev else FluxParams.schnell())
        ref = FluxTransformer2DModel(guidance_embeds=dev)
    sd = ours.state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == spec_table(dev)
    assert len(sd) == (780 if dev else 776)
    assert sum(v.numel() for v in sd.values()) == (11_901_408_320 if dev else 11_891_178_560)
    converted = {k: tuple(v.shape) for k, v in bfl_to_diffusers(sd).items()}
    assert converted == {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert len(converted) == (1160 if dev else 1156)


def test_schnell_weights_into_dev_model_fail_strict_load():
    schnell = Flux(tiny_flux_params(False))
    dev = Flux(tiny_flux_params(True))
    with pytest.raises(RuntimeError, match="guidance_in"):
        dev.load_state_dict(schnell.state_dict(), strict=True)


# --- negative tests: each injected bug must be visible far above the tolerance ---------------------


def rotate_half_rope(x, pe):
    cos, sin = pe
    cos = torch.cat([cos, cos], dim=-1)
    sin = torch.cat([sin, sin], dim=-1)
    x1, x2 = x.float().chunk(2, dim=-1)
    return (x.float() * cos + torch.cat([-x2, x1], dim=-1) * sin).to(x.dtype)


def flipped_timestep_embedding(t, dim, *args, **kwargs):
    emb = layers.timestep_embedding(t, dim, *args, **kwargs)
    return torch.cat([emb[:, dim // 2:], emb[:, : dim // 2]], dim=-1)


def modulation_without_silu(self, vec):
    return list(self.lin(vec)[:, None, :].chunk(self.multiplier, dim=-1))


class ImageFirstIds(torch.nn.Module):
    """Wraps the position embedder and builds the table for [img; txt] instead of [txt; img]."""

    def __init__(self, inner, n_txt):
        super().__init__()
        self.inner, self.n_txt = inner, n_txt

    def forward(self, ids):
        return self.inner(torch.roll(ids, -self.n_txt, dims=1))


def _inject(name, ours, inp, monkeypatch):
    """Apply one known bug; return (our inputs, reference weights to use or None)."""
    inp = dict(inp)
    if name == "final_layer_no_swap":
        return inp, bfl_to_diffusers(ours.state_dict(), swap_final=False)
    if name == "guidance_times_1000":
        inp["guidance"] = inp["guidance"] * 1000
    elif name == "row_col_swapped":
        inp["img_ids"] = inp["img_ids"][..., [0, 2, 1]]
    elif name == "rotate_half_rope":
        monkeypatch.setattr(layers, "apply_rope", rotate_half_rope)
    elif name == "img_txt_order":
        monkeypatch.setattr(ours, "pe_embedder", ImageFirstIds(ours.pe_embedder, L))
    elif name == "sin_cos_flipped":
        monkeypatch.setattr(transformer, "timestep_embedding", flipped_timestep_embedding)
    elif name == "no_silu_in_modulation":
        monkeypatch.setattr(layers.Modulation, "forward", modulation_without_silu)
    elif name == "linear1_split_order":
        sd = ours.state_dict()
        D = ours.params.hidden_size
        for s in ("weight", "bias"):
            for i in range(ours.params.depth_single_blocks):
                k = f"single_blocks.{i}.linear1.{s}"
                q, kk, v, mlp = torch.split(sd[k], [D, D, D, 4 * D])
                sd[k] = torch.cat([v, kk, q, mlp])  # v and q swapped
        ours.load_state_dict(sd)
    return inp, None


BUGS = [
    "final_layer_no_swap",
    "guidance_times_1000",
    "row_col_swapped",
    "rotate_half_rope",
    "img_txt_order",
    "sin_cos_flipped",
    "no_silu_in_modulation",
    "linear1_split_order",
]


@pytest.mark.parametrize("bug", BUGS)
def test_injected_bug_is_caught(bug, monkeypatch):
    ours, ref = build_pair(True)
    inp = make_inputs(ours.params)
    expected = run_reference(ref, inp)
    torch.testing.assert_close(ours(**inp), expected, **TOL)  # harness is green before the injection
    inp, ref_weights = _inject(bug, ours, inp, monkeypatch)
    if ref_weights is not None:
        ref.load_state_dict(ref_weights, strict=True)
        expected = run_reference(ref, inp)
    err = (ours(**inp) - expected).abs().max().item()
    print(f"{bug}: max abs error {err:.3g}")
    assert err > 1e-2, f"{bug}: error {err} would pass a 1e-4 parity check"


def test_scalar_timestep_and_guidance_broadcast_over_the_batch(pair):
    ours, ref, inp, _ = pair
    inp = dict(inp, timesteps=torch.tensor(0.7))
    if ours.params.guidance_embed:
        inp["guidance"] = 3.5
    full_guidance = torch.tensor([3.5, 3.5]) if ours.params.guidance_embed else None
    expected = run_reference(ref, dict(inp, timesteps=torch.tensor([0.7, 0.7]), guidance=full_guidance))
    torch.testing.assert_close(ours(**inp), expected, **TOL)
    with pytest.raises(ValueError, match="timesteps"):
        ours(**dict(inp, timesteps=torch.tensor([0.1, 0.2, 0.3])))


def test_real_head_layout_matches_diffusers():
    """FLUX's own head size and RoPE split (128 = 16 + 56 + 56) and 64 packed channels, on a narrow model."""
    params = tiny_flux_params(
        True, in_channels=64, out_channels=64, hidden_size=256, num_heads=2, axes_dim=(16, 56, 56),
        depth=1, depth_single_blocks=1, context_in_dim=64, vec_in_dim=32,
    )  # fmt: skip
    ours = randomize_(Flux(params), seed=21, std=0.1).eval()
    ref = diffusers_transformer_for(params).eval()
    ref.load_state_dict(bfl_to_diffusers(ours.state_dict()), strict=True)
    inp = make_inputs(params, seed=22)
    inp["img_ids"] = inp["img_ids"] * 7  # larger positions exercise the high RoPE frequencies
    expected = run_reference(ref, inp)
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(ours(**inp), expected, **TOL)


def test_plain_torch_path_matches_too(pair, monkeypatch):
    """The oneDNN fast path is an optimisation only: without it (other devices, training) results agree."""
    ours, _, inp, expected = pair
    monkeypatch.setattr(layers, "_ONEDNN_LINEAR", None)
    torch.testing.assert_close(ours(**inp), expected, **TOL)


def test_training_path_has_gradients(pair):
    ours, _, inp, expected = pair
    with torch.enable_grad():
        out = ours(**inp)
        out.square().mean().backward()
    try:
        torch.testing.assert_close(out.detach(), expected, **TOL)
        grads = [p.grad for p in ours.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert ours.single_blocks[0].linear1.weight.grad[3 * ours.params.hidden_size:].abs().sum() > 0
    finally:
        ours.zero_grad(set_to_none=True)
