"""Parity with diffusers + PEFT on a tiny random FLUX transformer: the same LoRA, in every layout, gives
the transformer output diffusers gives (``load_lora_adapter`` + ``set_adapters``, and ``fuse_lora``) to 1e-4
in fp32, at strengths 0, 0.5, 1, -1 and for two stacked LoRAs; strength 0 is the base model exactly."""
import pytest
import torch

from flux_core.lora import apply_to_model, convert
from tests.parity.helpers import bfl_to_diffusers, diffusers_transformer_for, randomize_, tiny_flux_params
from tests.parity.test_transformer import make_inputs, run_reference

from . import layouts
from .test_formats import ALL_LAYERS, HIDDEN, WRITERS

import peft  # noqa: E402,F401  the oracle is a test dependency: missing, it must fail, not skip
pytestmark = pytest.mark.parity
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def setup():
    from flux_core.models import Flux

    with torch.no_grad():
        ours = randomize_(Flux(tiny_flux_params(True)), seed=0).eval()
        inp = make_inputs(ours.params)
        u1 = layouts.random_update(ours, rank=4, alpha=2.0, seed=11, layers=ALL_LAYERS, std=0.2)
        u2 = layouts.random_update(ours, rank=2, alpha=2.0, seed=12, layers=["img_attn.qkv", "linear1", "txt_mlp.0"],
                                   std=0.2)
    return ours, inp, u1, u2


def reference(ours, adapters: dict, weights: dict | None = None, fuse: float | None = None):
    """diffusers' transformer with our base weights and the PEFT adapters {name: diffusers state dict}."""
    ref = diffusers_transformer_for(ours.params).eval()
    ref.load_state_dict(bfl_to_diffusers(ours.state_dict()), strict=True)
    for name, sd in adapters.items():
        ref.load_lora_adapter(dict(sd), prefix="transformer", adapter_name=name)
    if weights is not None:
        ref.set_adapters(list(weights), list(weights.values()))
    if fuse is not None:
        ref.fuse_lora(lora_scale=fuse)
    return ref


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0, -1.0])
def test_every_layout_matches_diffusers(setup, strength):
    ours, inp, u1, _ = setup
    with torch.no_grad():
        expected = run_reference(reference(ours, {"a": layouts.diffusers_peft(u1, HIDDEN)}, {"a": strength}), inp)
        base = ours(**inp)
        assert (expected - base).abs().max() > (1e-2 if strength else -1)  # the LoRA changes the output
        for layout, write in WRITERS.items():
            patched = apply_to_model(ours, [(convert(write(u1), ours, source=layout), strength)])
            torch.testing.assert_close(patched(**inp), expected, **TOL, msg=layout)


def test_strength_zero_is_the_base_model_exactly(setup):
    ours, inp, u1, u2 = setup
    with torch.no_grad():
        base = ours(**inp)
        patched = apply_to_model(ours, [(convert(layouts.kohya(u1), ours), 0.0),
                                        (convert(layouts.diffusers_peft(u2, HIDDEN), ours), 0.0)])
        assert torch.equal(patched(**inp), base)


def test_two_stacked_loras_match_diffusers_set_adapters(setup):
    ours, inp, u1, u2 = setup
    with torch.no_grad():
        ref = reference(ours, {"a": layouts.diffusers_peft(u1, HIDDEN), "b": layouts.diffusers_peft(u2, HIDDEN)},
                        {"a": 0.7, "b": -1.3})
        expected = run_reference(ref, inp)
        one = apply_to_model(ours, [(convert(layouts.kohya(u1), ours), 0.7),
                                    (convert(layouts.bfl_comfy(u2), ours), -1.3)])
        torch.testing.assert_close(one(**inp), expected, **TOL)
        # the same as two chained LoadLoRA nodes
        first = apply_to_model(ours, [(convert(layouts.ai_toolkit(u1, HIDDEN), ours), 0.7)])
        chained = apply_to_model(first, [(convert(layouts.kohya(u2), first), -1.3)])
        torch.testing.assert_close(chained(**inp), expected, **TOL)


def test_xlabs_matches_diffusers(setup):
    ours, inp, _, _ = setup
    update = layouts.random_update(ours, rank=4, alpha=4.0, seed=13, layers=list(layouts.XLABS_DOUBLE), std=0.2)
    with torch.no_grad():
        expected = run_reference(reference(ours, {"x": layouts.diffusers_peft(update, HIDDEN)}, {"x": 0.5}), inp)
        patched = apply_to_model(ours, [(convert(layouts.xlabs(update), ours), 0.5)])
        torch.testing.assert_close(patched(**inp), expected, **TOL)


def test_fused_diffusers_model_matches(setup):
    ours, inp, u1, _ = setup
    with torch.no_grad():
        expected = run_reference(reference(ours, {"a": layouts.diffusers_peft(u1, HIDDEN)}, fuse=0.5), inp)
        patched = apply_to_model(ours, [(convert(layouts.kohya(u1), ours), 0.5)])
        torch.testing.assert_close(patched(**inp), expected, **TOL)


def test_xlabs_file_matches_diffusers_own_xlabs_conversion(setup):
    """diffusers converts the XLabs file itself here (FluxPipeline.lora_state_dict), not our test writer."""
    from diffusers import FluxPipeline

    ours, inp, _, _ = setup
    update = layouts.random_update(ours, rank=4, alpha=4.0, seed=14, layers=list(layouts.XLABS_DOUBLE), std=0.2)
    sd = layouts.xlabs(update)
    converted = FluxPipeline.lora_state_dict({k: v.clone() for k, v in sd.items()})
    converted = converted[0] if isinstance(converted, tuple) else converted
    with torch.no_grad():
        expected = run_reference(reference(ours, {"x": converted}, {"x": -1.0}), inp)
        patched = apply_to_model(ours, [(convert(sd, ours), -1.0)])
        torch.testing.assert_close(patched(**inp), expected, **TOL)
