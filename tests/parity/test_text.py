"""parity-plan row 15: TextConditioner vs direct transformers calls, with the real FLUX tokenizers."""
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from flux_core.models import TextConditioner

from .helpers import randomize_

pytestmark = pytest.mark.parity

TOKENIZERS = Path("/work/shared/data/tokenizers")
PROMPTS = ["a photo of a red fox in the snow", "hello"]
CLIP_EOS = 49407


@pytest.fixture(scope="module")
def tokenizers():
    if not (TOKENIZERS / "t5xxl").is_dir() or not (TOKENIZERS / "clip_l").is_dir():
        pytest.skip(f"real tokenizer folders not found under {TOKENIZERS}")
    return AutoTokenizer.from_pretrained(TOKENIZERS / "t5xxl"), AutoTokenizer.from_pretrained(TOKENIZERS / "clip_l")


@pytest.fixture(scope="module")
def conditioner(tokenizers):
    t5 = T5EncoderModel(T5Config(
        vocab_size=32128, d_model=32, d_kv=8, d_ff=40, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=16, feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    ))  # fmt: skip
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=0,
        eos_token_id=2, pad_token_id=1, projection_dim=32,
    ))  # fmt: skip  (eos_token_id=2 is the legacy openai value: pooling by argmax of the ids)
    randomize_(t5, seed=1, std=0.5).eval()
    randomize_(clip, seed=2, std=0.5).eval()
    return TextConditioner(t5, tokenizers[0], clip, tokenizers[1], t5_max_length=24)


def test_t5_tokens_are_padded_and_truncated_like_bfl(conditioner):
    ids = conditioner.t5_input_ids(PROMPTS)
    assert ids.shape == (2, 24)
    n = int((ids[1] != 0).sum())
    assert ids[1, n - 1] == 1 and (ids[1, n:] == 0).all()  # pieces, </s>, then <pad>
    long = conditioner.t5_input_ids(["word " * 100])
    assert long.shape == (1, 24) and long[0, -1] == 1


def test_clip_tokens_are_padded_with_eos(conditioner):
    ids = conditioner.clip_input_ids(PROMPTS)
    assert ids.shape == (2, 77)
    assert (ids[:, 0] == 49406).all()
    n = int((ids[1] != CLIP_EOS).sum())
    assert (ids[1, n:] == CLIP_EOS).all()
    assert conditioner.clip_input_ids(["word " * 100]).shape == (1, 77)


def test_encode_matches_direct_transformers_calls(conditioner, tokenizers):
    t5_tok, clip_tok = tokenizers
    t5_ids = t5_tok(PROMPTS, padding="max_length", max_length=24, truncation=True, return_tensors="pt").input_ids
    clip_ids = clip_tok(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    txt, vec = conditioner.encode(PROMPTS, no_grad=True)
    assert txt.shape == (2, 24, 32) and vec.shape == (2, 32)
    assert torch.equal(txt, conditioner.t5(input_ids=t5_ids).last_hidden_state)
    # pooled = final-layer-normed hidden state at the FIRST end-of-text token
    hidden = conditioner.clip(input_ids=clip_ids).last_hidden_state
    first_eos = (clip_ids == CLIP_EOS).int().argmax(dim=-1)
    assert torch.equal(vec, hidden[torch.arange(2), first_eos])


def test_t5_is_not_masked(conditioner):
    ids = conditioner.t5_input_ids(PROMPTS)
    txt, _ = conditioner.encode(PROMPTS, no_grad=True)
    masked = conditioner.t5(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state
    assert (txt[1] - masked[1]).abs().max() > 1e-3  # a mask would change the result


def test_separate_clip_prompts(conditioner):
    txt, vec = conditioner.encode(PROMPTS, ["something else", "another"], no_grad=True)
    txt_same, vec_same = conditioner.encode(PROMPTS, no_grad=True)
    assert torch.equal(txt, txt_same)
    assert not torch.allclose(vec, vec_same)
    with pytest.raises(ValueError, match="CLIP prompts"):
        conditioner.encode(PROMPTS, ["only one"])


def test_gradients_flow_unless_no_grad(conditioner):
    with torch.enable_grad():
        txt, vec = conditioner.encode(["a cat"])
        assert txt.requires_grad and vec.requires_grad
        txt, vec = conditioner.encode(["a cat"], no_grad=True)
        assert not txt.requires_grad and not vec.requires_grad
