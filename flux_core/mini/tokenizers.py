"""The flux-mini tokenizers, made locally from the caption grammar (no download).

- T5 side: a sentencepiece unigram model (pad 0, eos 1, unk 2, lower-casing NFKC as T5 uses), to which
  one ``▁word`` piece per caption word is added, so each word is one token and unknown words still
  split into characters. Saved as a folder ``transformers.AutoTokenizer`` loads (T5Tokenizer).
- CLIP side: a byte-level BPE with CLIP's ``</w>`` end-of-word suffix and CLIP's vocabulary layout
  (256 byte symbols, the same with ``</w>``, one entry per merge, then ``<|startoftext|>`` and
  ``<|endoftext|>`` last), trained until every caption word is one token. Saved as vocab.json +
  merges.txt, which CLIPTokenizer loads.

Nothing here needs the protobuf package.
"""
from __future__ import annotations

import json
import math
import struct
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


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


def _proto_fields(buf: bytes):
    """(field number, raw value) of a serialized protobuf message: enough wire format to read one field."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            size, i = _read_varint(buf, i)
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in the sentencepiece model")
        yield number, value


def _piece_record(piece: str, score: float) -> bytes:
    """A ModelProto ``pieces`` entry (field 1: piece, score, type NORMAL); repeated fields may be appended."""
    text = piece.encode()
    body = b"\x0a" + _varint(len(text)) + text + b"\x15" + struct.pack("<f", score) + b"\x18\x01"
    return b"\x0a" + _varint(len(body)) + body


def build_t5_tokenizer(folder: Path) -> Path:
    """Train the sentencepiece model and save it as a T5 tokenizer folder (tokenizer.json: the same unigram
    pieces, scores and normalisation); returns the folder.

    The whole-word pieces are appended to the serialized model directly (protobuf wire format), and the
    transformers tokenizer is built from its pieces, scores and normalisation map, so neither needs the
    protobuf package.
    """
    import sentencepiece as spm
    from transformers import T5Tokenizer

    captions = all_captions()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(captions) + "\n")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "spiece"), model_type="unigram", vocab_size=60,
            hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
            normalization_rule_name="nmt_nfkc_cf", character_coverage=1.0, minloglevel=2)
        model = (Path(tmp) / "spiece.model").read_bytes()
    trained = spm.SentencePieceProcessor(model_proto=model)
    have = {trained.id_to_piece(i) for i in range(trained.get_piece_size())}
    counts = _word_counts(captions)
    total = sum(counts.values())
    for word in vocabulary():
        piece = "\u2581" + word if word != "," else ","
        if piece not in have:
            model += _piece_record(piece, math.log(counts[word] / total) + 5.0)  # whole words beat any split
            have.add(piece)
    final = spm.SentencePieceProcessor(model_proto=model)
    pieces = [(final.id_to_piece(i), final.get_score(i)) for i in range(final.get_piece_size())]
    normalizer = next(value for number, value in _proto_fields(model) if number == 3)  # normalizer_spec
    charsmap = next(value for number, value in _proto_fields(normalizer) if number == 2)  # precompiled_charsmap
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    T5Tokenizer(vocab=pieces, _spm_precompiled_charsmap=charsmap, extra_ids=0).save_pretrained(str(folder))
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
