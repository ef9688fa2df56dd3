"""The data, the tokenizers and the scorer that judges flux-mini's pictures."""
import random

import numpy as np
import pytest

from flux_core.mini import data, scorer


def test_scorer_reads_the_training_pictures_themselves():
    pixels, captions, _ = data.dataset(300, seed=11)
    result = scorer.score(pixels, captions)
    assert result["background"] == 1.0 and result["colour"] == 1.0 and result["position"] == 1.0
    assert result["shape"] >= 0.97 and result["size"] >= 0.97


def test_scorer_notices_a_wrong_picture():
    pixels, captions, scenes = data.dataset(40, seed=12)
    shuffled = captions[1:] + captions[:1]
    assert scorer.score(pixels, shuffled)["all"] < 0.3
    blank = np.full_like(pixels, 128)
    assert scorer.score(blank, captions)["colour"] == 0.0


def test_captions_follow_the_grammar_with_fitting_articles():
    rng = random.Random(3)
    for _ in range(200):
        scene = data.random_scene(rng)
        text = data.random_caption(scene, rng)
        words = text.replace(",", "").split()
        for article, word in zip(words, words[1:]):
            if article in ("a", "an"):
                assert article == ("an" if word[0] in "aeiou" else "a"), text
        parsed = data.parse_caption(text)
        assert parsed == scene.attributes()
    assert data.caption(data.Scene("star", "orange", "white"), with_size=False) == \
        "an orange star on a white background, center"
    assert data.caption(data.Scene("star", "orange", "white")) == "a large orange star on a white background, center"


def test_drawing_is_deterministic_per_seed():
    a, ca, _ = data.example(42)
    b, cb, _ = data.example(42)
    c, _, _ = data.example(43)
    assert np.array_equal(a, b) and ca == cb and not np.array_equal(a, c)


def test_shipped_tokenizers_load_with_autotokenizer_and_keep_words_whole():
    from transformers import AutoTokenizer

    from flux_core.mini.tokenizers import check_one_token_per_word
    from flux_core.model_folders import SHIPPED_MODELS

    for kind in ("t5", "clip"):
        tok = AutoTokenizer.from_pretrained(str(SHIPPED_MODELS / "tokenizers" / f"flux-mini-{kind}"))
        assert check_one_token_per_word(tok, kind) == []
        # 10 words and the comma, one token each, plus the special tokens each side adds.
        ids = tok("a large red circle on a blue background, top left")["input_ids"]
        if kind == "t5":  # pieces ... </s>
            assert len(ids) == 12 and ids[-1] == tok.eos_token_id and tok.unk_token_id not in ids
        else:  # <|startoftext|> ... <|endoftext|> (CLIP's unk is <|endoftext|> too)
            assert len(ids) == 13 and ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
            assert tok.eos_token_id not in ids[1:-1]
        assert tok.decode(ids, skip_special_tokens=True).replace(" ,", ",") == \
            "a large red circle on a blue background, top left"


def test_tokenizer_build_reproduces_the_shipped_tokenizers_without_protobuf(tmp_path, monkeypatch):
    import json
    import sys

    from flux_core.mini.tokenizers import build_clip_tokenizer, build_t5_tokenizer
    from flux_core.model_folders import SHIPPED_MODELS

    monkeypatch.setitem(sys.modules, "google.protobuf", None)  # building must not need protobuf
    shipped = SHIPPED_MODELS / "tokenizers"
    t5 = build_t5_tokenizer(tmp_path / "t5")
    assert json.loads((t5 / "tokenizer.json").read_text()) == \
        json.loads((shipped / "flux-mini-t5" / "tokenizer.json").read_text())
    clip = build_clip_tokenizer(tmp_path / "clip")
    for name in ("vocab.json", "merges.txt"):
        assert (clip / name).read_text() == (shipped / "flux-mini-clip" / name).read_text()
