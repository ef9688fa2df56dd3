"""The flux-mini tokenizers, made locally from the caption grammar (no download).

- T5 side: a sentencepiece unigram model (pad 0, eos 1, unk 2, lower-casing NFKC as T5 uses), to which
  one ``▁word`` piece per caption word is added, so each word is one token and unknown words still
  split into characters. Saved as a folder ``transformers.AutoTokenizer`` loads (T5Tokenizer).
- CLIP side: a byte-level BPE with CLIP's ``</w>`` end-of-word suffix and CLIP's vocabulary layout
  (256 byte symbols, the same with ``</w>``, one entry per merge, then ``<|startoftext|>`` and
  ``<|endoftext|>`` last), trained until every caption word is one token. Saved as vocab.json +
  merges.txt, which CLIPTokenizer loads.

Building the T5 model needs ``protobuf`` (to edit the sentencepiece model); loading the result does not.
"""
from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

from .data import all_captions, vocabulary

CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _word_counts(captions: list[str]) -> Counter:
    counts = Counter()
    for text in captions:
        counts.update(text.replace(",", " , ").split())
    return counts


def build_t5_tokenizer(folder: Path) -> Path:
    """Train the sentencepiece model and save a T5 tokenizer folder; returns the folder."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
    from transformers import T5Tokenizer

    captions = all_captions()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(captions) + "\n")
        prefix = Path(tmp) / "spiece"
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(prefix), model_type="unigram", vocab_size=60,
            hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
            normalization_rule_name="nmt_nfkc_cf", character_coverage=1.0, minloglevel=2)
        proto = pb.ModelProto()
        proto.ParseFromString((Path(tmp) / "spiece.model").read_bytes())
    have = {p.piece for p in proto.pieces}
    counts = _word_counts(captions)
    total = sum(counts.values())
    for word in vocabulary():
        piece = "\u2581" + word if word != "," else ","
        if piece in have:
            continue
        new = proto.pieces.add()
        new.piece = piece
        new.score = math.log(counts[word] / total) + 5.0  # whole words win over any split of them
        new.type = pb.ModelProto.SentencePiece.NORMAL
        have.add(piece)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "spiece.model"
        model_file.write_bytes(proto.SerializeToString())
        tok = T5Tokenizer.from_pretrained(tmp, extra_ids=0)
        tok.save_pretrained(str(folder))
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars)))


def build_clip_tokenizer(folder: Path) -> Path:
    """Train the byte-level BPE and save vocab.json + merges.txt in CLIP's layout; returns the folder."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    byte_chars = list(_bytes_to_unicode().values())
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=5000, min_frequency=1, show_progress=False,
                                  initial_alphabet=byte_chars, end_of_word_suffix="</w>")
    tok.train_from_iterator(all_captions(), trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    for a, b in merges:
        if a + b not in vocab:
            vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tok = CLIPTokenizer.from_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def check_one_token_per_word(tokenizer, kind: str) -> list[str]:
    """Caption words that the tokenizer splits into several tokens (should be none)."""
    bad = []
    for word in vocabulary():
        if word == "," and kind == "t5":
            continue  # sentencepiece marks a word start; "," only ever follows a word, where it is one token
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            bad.append(word)
    return bad


if __name__ == "__main__":
    import sys
    from transformers import AutoTokenizer

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tokenizers")
    for kind, build in (("t5", build_t5_tokenizer), ("clip", build_clip_tokenizer)):
        folder = build(out / f"flux-mini-{kind}")
        tok = AutoTokenizer.from_pretrained(str(folder))
        print(kind, type(tok).__name__, len(tok), "split words:", check_one_token_per_word(tok, kind),
              tok("a large red circle on a blue background, top left")["input_ids"])
