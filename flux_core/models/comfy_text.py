"""Prompts tokenized and encoded the way ComfyUI does it for FLUX.1 (its `FluxTokenizer` + `FluxClipModel`).

Differences from BFL's way (pad to a fixed length, truncate): ComfyUI reads ``(text:1.2)`` emphasis (and
``(text)`` as weight 1.1; ``\\(`` keeps a bracket), never truncates T5 but pads it to at least 256 tokens,
and cuts CLIP into 77-token chunks (a short weighted segment that would straddle the edge moves whole to
the next chunk) of which FLUX uses the pooled vector of the first. Weighted tokens are pulled away from
the encoding of an empty prompt of the same length: z = (z - z_empty) * w + z_empty.

``embedding:NAME`` words (textual inversion) are taken out of the text as ComfyUI takes out an embedding it
does not find in ``models/embeddings``: the name up to the next space is dropped, the rest of the word stays,
and the pieces around it are tokenized separately. fluxwire has no textual inversion; a prompt naming an
embedding that ComfyUI would find is refused by the prompt nodes (see ``found_embeddings``).
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

T5_MIN_LENGTH = 256
CLIP_CHUNK = 77
SHORT_SEGMENT = 8  # tokens: a segment shorter than this is kept in one chunk


def parse_weights(text: str) -> list[tuple[str, float]]:
    """Split a prompt into (text, weight) segments by ComfyUI's bracket rules."""
    text = text.replace("\\)", "\0\1").replace("\\(", "\0\2")
    return [(seg.replace("\0\1", ")").replace("\0\2", "("), w) for seg, w in _weighted(text, 1.0)]


def _brackets(text: str) -> list[str]:
    parts, current, depth = [], "", 0
    for ch in text:
        if ch == "(":
            if depth == 0:
                if current:
                    parts.append(current)
                current = "("
            else:
                current += ch
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                parts.append(current + ")")
                current = ""
            else:
                current += ch
        else:
            current += ch
    if current:
        parts.append(current)
    return parts


def _weighted(text: str, weight: float) -> list[tuple[str, float]]:
    out = []
    for part in _brackets(text):
        if len(part) >= 2 and part[0] == "(" and part[-1] == ")":
            inner, w = part[1:-1], weight * 1.1
            colon = inner.rfind(":")
            if colon > 0:
                try:
                    w = float(inner[colon + 1:])
                    inner = inner[:colon]
                except ValueError:
                    pass
            out += _weighted(inner, w)
        else:
            out.append((part, weight))
    return out


EMBEDDING = "embedding:"
EMBEDDING_SUFFIXES = ("", ".safetensors", ".pt", ".bin")  # what ComfyUI tries after the name


def _words(segment: str) -> tuple[list[str], list[str]]:
    """(the pieces ComfyUI tokenizes one by one, the embedding names taken out) of a weighted segment."""
    parts = re.split(f" {EMBEDDING}|\n{EMBEDDING}", segment)
    pieces, names = [], []
    for word in [parts[0]] + [EMBEDDING + p for p in parts[1:]]:
        if word == "":
            continue
        if word.startswith(EMBEDDING):
            split = word[len(EMBEDDING):].strip("\n").split()
            name = split[0] if split else ""
            leftover = " ".join(split[1:])
            stripped = name.strip(",")
            if len(stripped) < len(name):  # "name," : ComfyUI looks the name up without the commas
                leftover = f"{name[len(stripped):]} {leftover}"
            names.append(stripped)
            if leftover == "":
                continue
            word = leftover
        pieces.append(word)
    return pieces, names


def embedding_names(text: str) -> list[str]:
    """The ``embedding:NAME`` names a prompt uses, as ComfyUI reads them."""
    return [n for segment, _ in parse_weights(text) for n in _words(segment)[1] if n]


def found_embeddings(text: str, folder: Path) -> list[tuple[str, Path]]:
    """(name, file) of each embedding of the prompt that ComfyUI would find in ``folder`` (models/embeddings)."""
    found = []
    for name in embedding_names(text):
        for suffix in EMBEDDING_SUFFIXES:
            path = folder / (name + suffix)
            if path.is_file() and folder.resolve() in path.resolve().parents:
                found.append((name, path))
                break
    return found


def _segment_tokens(tokenizer, text: str, has_start: bool) -> list[list[tuple[int, float]]]:
    """Token ids of each piece of each weighted segment without the tokenizer's start/end tokens."""
    groups = []
    for segment, weight in parse_weights(text):
        for piece in _words(segment)[0]:
            ids = tokenizer(piece)["input_ids"]
            ids = ids[1 if has_start else 0:-1]
            groups.append([(int(t), weight) for t in ids])
    return groups


def _chunks(groups, *, start: int | None, end: int, pad: int, max_length: int, pad_to_max: bool,
            min_length: int | None) -> list[list[tuple[int, float]]]:
    """ComfyUI's SDTokenizer batching of token groups into chunks of at most ``max_length``."""
    chunk = [(start, 1.0)] if start is not None else []
    chunks = [chunk]
    for group in groups:
        large = len(group) >= SHORT_SEGMENT
        while group:
            if len(group) + len(chunk) > max_length - 1:
                room = max_length - len(chunk) - 1
                if large:
                    chunk.extend(group[:room])
                    chunk.append((end, 1.0))
                    group = group[room:]
                else:
                    chunk.append((end, 1.0))
                    if pad_to_max:
                        chunk.extend([(pad, 1.0)] * room)
                chunk = [(start, 1.0)] if start is not None else []
                chunks.append(chunk)
            else:
                chunk.extend(group)
                group = []
    chunk.append((end, 1.0))
    if pad_to_max and len(chunk) < max_length:
        chunk.extend([(pad, 1.0)] * (max_length - len(chunk)))
    if min_length is not None and len(chunk) < min_length:
        chunk.extend([(pad, 1.0)] * (min_length - len(chunk)))
    return chunks


def t5_tokens(tokenizer, text: str, min_length: int = T5_MIN_LENGTH) -> list[tuple[int, float]]:
    """The single T5 sequence: all segments, </s>, padded with 0 to at least ``min_length``."""
    end = tokenizer("")["input_ids"][0]
    return _chunks(_segment_tokens(tokenizer, text, False), start=None, end=end, pad=0, max_length=10**9,
                   pad_to_max=False, min_length=min_length)[0]


def clip_first_chunk(tokenizer, text: str) -> list[int]:
    """The first 77-token CLIP chunk: <start>, tokens, <end>, padded with <end>."""
    empty = tokenizer("")["input_ids"]
    start, end = empty[0], empty[1]
    chunks = _chunks(_segment_tokens(tokenizer, text, True), start=start, end=end, pad=end, max_length=CLIP_CHUNK,
                     pad_to_max=True, min_length=None)
    return [t for t, _ in chunks[0]]


def encode(conditioner, prompts: list[str], clip_prompts: list[str], min_length: int) -> tuple[Tensor, Tensor]:
    """(txt [B, L, d_t5], vec [B, d_clip]) as ComfyUI computes them; L >= ``min_length``."""
    t5_device = next(conditioner.t5.parameters()).device
    clip_device = next(conditioner.clip.parameters()).device
    sequences = [t5_tokens(conditioner.t5_tokenizer, p, min_length) for p in prompts]
    length = max(len(s) for s in sequences)
    txts = []
    for seq in sequences:
        seq = seq + [(0, 1.0)] * (length - len(seq))
        ids = torch.tensor([[t for t, _ in seq]], device=t5_device)
        weights = [w for _, w in seq]
        z = conditioner.t5(input_ids=ids, attention_mask=None).last_hidden_state
        if any(w != 1.0 for w in weights):
            end = conditioner.t5_tokenizer("")["input_ids"][0]
            empty = torch.tensor([[end] + [0] * (length - 1)], device=t5_device)
            z_empty = conditioner.t5(input_ids=empty, attention_mask=None).last_hidden_state
            w = torch.tensor(weights, dtype=z.dtype, device=z.device)[None, :, None]
            z = torch.where(w != 1.0, (z - z_empty) * w + z_empty, z)
        txts.append(z)
    clip_ids = torch.tensor([clip_first_chunk(conditioner.clip_tokenizer, p) for p in clip_prompts],
                            device=clip_device)
    vec = conditioner.clip(input_ids=clip_ids, attention_mask=None).pooler_output
    return torch.cat(txts, 0), vec
