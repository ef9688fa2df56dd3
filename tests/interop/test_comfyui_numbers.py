"""ComfyUI's numbers: initial noise, sigma tables and shifts (comfyui-notes §4.3-§4.4), and its tokenization."""
import pytest
import torch

from nodes.flux.sigmas import flux_shift, model_sigmas
from nodes.flux.values import FluxModel, Latent, Noise
from tests.nodes.tiny_models import flux


def comfy_noise(seed, shape):
    """ComfyUI's prepare_noise: the global CPU generator seeded, one randn for the whole batch."""
    generator = torch.manual_seed(seed)
    return torch.randn(shape, dtype=torch.float32, generator=generator, device="cpu")


@pytest.mark.parametrize("seed", [0, 42, 972054013131368, 2**64 - 1])
def test_noise_is_bit_identical_including_batches_and_repeated_latents(seed):
    from nodes.flux.image_ops import RepeatLatentBatch

    one = Latent(torch.zeros(1, 16, 6, 8), 64, 48)
    assert torch.equal(Noise(seed).for_latent(one), comfy_noise(seed, [1, 16, 6, 8]))
    repeated = RepeatLatentBatch().run(None, one, 3)
    noise = Noise(seed).for_latent(repeated)
    assert torch.equal(noise, comfy_noise(seed, [3, 16, 6, 8]))  # one draw for the whole batch
    assert torch.equal(noise[:1], comfy_noise(seed, [1, 16, 6, 8]))
    assert not torch.equal(noise[1:2], comfy_noise((seed + 1) % 2**64, [1, 16, 6, 8]))  # item 1 is not seed + 1
    assert torch.equal(Noise(seed, enabled=False).for_latent(repeated), torch.zeros(3, 16, 6, 8))


@pytest.fixture(scope="module")
def dev():
    return FluxModel(flux(True), "dev")


@pytest.fixture(scope="module")
def schnell():
    return FluxModel(flux(False), "schnell")


def test_simple_schedules_match_the_notes(dev, schnell):
    assert model_sigmas(schnell, 4, 1.0) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [round(s, 4) for s in model_sigmas(dev, 4, 1.0)] == [1.0, 0.9045, 0.7595, 0.5128, 0.0]
    assert [round(s, 4) for s in model_sigmas(dev, 20, 1.0)] == [
        1.0, 0.9836, 0.9660, 0.9471, 0.9266, 0.9045, 0.8805, 0.8543, 0.8257, 0.7942, 0.7595,
        0.7210, 0.6780, 0.6297, 0.5751, 0.5128, 0.4412, 0.3579, 0.2598, 0.1425, 0.0]


def test_dev_table_ignores_the_picture_size_until_model_sampling_flux(dev):
    from dataclasses import replace

    shifted = replace(dev, shift=flux_shift(1.15, 0.5, 1024, 1024))
    assert model_sigmas(shifted, 20, 1.0) == model_sigmas(dev, 20, 1.0)  # 1024^2 is mu 1.15
    small = replace(dev, shift=flux_shift(1.15, 0.5, 512, 512))
    assert model_sigmas(small, 4, 1.0)[1] < model_sigmas(dev, 4, 1.0)[1]


@pytest.mark.parametrize("width, height, mu", [(512, 512, 0.63), (1024, 1024, 1.15), (1536, 1536, 2.0167),
                                               (768, 1344, 1.1392)])
def test_model_sampling_flux_shift_from_width_and_height(width, height, mu):
    assert round(flux_shift(1.15, 0.5, width, height), 4) == mu


def test_denoise_keeps_the_tail_of_a_longer_schedule(schnell, dev):
    assert model_sigmas(schnell, 4, 0.5) == [0.5, 0.375, 0.25, 0.125, 0.0]  # int(4 / 0.5) = 8 steps
    assert model_sigmas(dev, 4, 0.75) == model_sigmas(dev, 5, 1.0)[-5:]  # int(4 / 0.75) = 5
    assert model_sigmas(dev, 4, 0.0) == []


def test_set_first_sigma_and_split_sigmas(schnell):
    from nodes.flux.sigmas import SetFirstSigma, SplitSigmas
    from nodes.flux.values import Sigmas

    sigmas = Sigmas(tuple(model_sigmas(schnell, 4, 1.0)))
    assert SetFirstSigma().run(None, sigmas, 0.9).values == (float(torch.tensor(0.9)), 0.75, 0.5, 0.25, 0.0)
    split = SplitSigmas().run(None, sigmas, 2)
    assert split["high_sigmas"].values == (1.0, 0.75, 0.5) and split["low_sigmas"].values == (0.5, 0.25, 0.0)


def test_two_half_runs_continue_like_comfyui():
    """noise_scaling at the first sigma and the inverse at the last: a run split in two with leftover
    noise equals the whole run (the velocity here is a fixed linear map, so the check is exact math)."""
    from flux_core.guided_sampling import run_sampler

    torch.manual_seed(0)
    w = torch.randn(4, 4) * 0.1
    velocity = lambda x, s: x @ w + s  # noqa: E731
    noise, latent = torch.randn(1, 4, 4), torch.zeros(1, 4, 4)
    sigmas = [1.0, 0.75, 0.5, 0.25, 0.0]
    whole, _ = run_sampler(velocity, noise, latent, sigmas)
    first, _ = run_sampler(velocity, noise, latent, sigmas[:3])
    second, _ = run_sampler(velocity, torch.zeros_like(noise), first, sigmas[2:])
    assert torch.allclose(second, whole, atol=1e-6)
    assert not torch.allclose(first, whole, atol=1e-3)


# ------------------------------------------------------------------ tokenization


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from tests.nodes.tiny_models import SHARED_TOKENIZERS

    return AutoTokenizer.from_pretrained(SHARED_TOKENIZERS / "t5xxl"), AutoTokenizer.from_pretrained(
        SHARED_TOKENIZERS / "clip_l")


def test_weights_syntax():
    from flux_core.models.comfy_text import parse_weights

    assert parse_weights("a (red:1.3) cat, (blue) sky") == [("a ", 1.0), ("red", 1.3), (" cat, ", 1.0),
                                                            ("blue", pytest.approx(1.1)), (" sky", 1.0)]
    assert parse_weights("a \\(literal\\) bracket") == [("a (literal) bracket", 1.0)]
    assert parse_weights("((very))") == [("very", pytest.approx(1.21))]


def test_t5_is_padded_to_at_least_256_and_never_truncated(tokenizers):
    from flux_core.models.comfy_text import t5_tokens

    t5, _ = tokenizers
    short = [t for t, _ in t5_tokens(t5, "a red fox in the snow")]
    want = t5("a red fox in the snow")["input_ids"]
    assert short == want + [0] * (256 - len(want))
    long_text = " ".join(f"word{i}" for i in range(200))
    long = [t for t, _ in t5_tokens(t5, long_text)]
    assert len(long) > 256 and long == t5(long_text)["input_ids"]


def test_clip_first_chunk_keeps_short_segments_whole(tokenizers):
    from flux_core.models.comfy_text import clip_first_chunk

    _, clip = tokenizers
    assert clip_first_chunk(clip, "a red fox") == clip("a red fox", padding="max_length", max_length=77)["input_ids"]
    long_text = " ".join(["fox"] * 100)  # one big segment: cut at 75 tokens like truncation
    assert clip_first_chunk(clip, long_text) == clip(long_text, truncation=True, max_length=77)["input_ids"]
    head = " ".join(["fox"] * 74)  # <start> + 74 tokens: a 2-token segment no longer fits before <end>
    chunk = clip_first_chunk(clip, head + " (snowy mountain:1.1)")
    assert chunk[:75] == clip(head)["input_ids"][:75] and set(chunk[75:]) == {49407}
    truncated = clip(head + " snowy mountain", truncation=True, max_length=77)["input_ids"]
    assert truncated[75] != 49407  # plain truncation would have cut the segment


def test_comfyui_tokenization_changes_what_weights_and_length_change(comfy_models):
    from flux_core.loading import load_text_encoders

    cond = load_text_encoders(comfy_models / "text_encoders" / "t5xxl_fp16.safetensors",
                              comfy_models / "clip" / "clip_l.safetensors", models_dir=comfy_models)
    cond.tokenization, cond.t5_max_length = "comfyui", 256
    plain, vec = cond.encode(["a red fox"], no_grad=True)
    weighted, vec_w = cond.encode(["a (red:1.5) fox"], no_grad=True)
    assert plain.shape == (1, 256, 32) and torch.equal(vec, vec_w)  # the pooled CLIP vector is unweighted
    changed = (weighted - plain).abs().amax(dim=-1)[0]
    assert changed[2] > 1e-4  # "▁a" is two pieces, so "red" is token 2
    assert torch.cat([changed[:2], changed[3:]]).max() < 1e-6  # only the weighted token moves
    text = " ".join(["fox"] * 300)
    longer, _ = cond.encode([text], no_grad=True)
    assert longer.shape[1] == len(cond.t5_tokenizer(text)["input_ids"]) > 256
