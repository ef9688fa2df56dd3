"""Read back from a picture what a flux-mini caption asks for: background colour, shape colour, position,
size and shape class. Used by the quality tests (and checked first on the training pictures themselves).

Colours: every pixel takes the nearest palette colour; the border's majority is the background, the
majority of the other pixels is the shape's colour. Shape, position and size: the best intersection-over-union
between the shape's pixels and masks rendered for every shape x position x size (at a few scales).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import data

ATTRIBUTES = ("background", "colour", "position", "size", "shape")
_PALETTE_NAMES = list(data.COLOURS)
_PALETTE = np.array([data.COLOURS[n] for n in _PALETTE_NAMES], dtype=np.float32)


def palette_labels(pixels: np.ndarray) -> np.ndarray:
    """[H, W] index into the palette of each pixel's nearest colour."""
    diff = pixels.astype(np.float32)[:, :, None, :] - _PALETTE[None, None]
    return np.argmin((diff ** 2).sum(-1), axis=-1)


@lru_cache(maxsize=4)
def templates(resolution: int):
    """(keys, masks): keys are (shape, position, size); masks [K, H, W] bool of the rendered shapes."""
    keys, masks = [], []
    for shape in data.SHAPES:
        for position in data.POSITIONS:
            for size in data.SIZES:
                for scale in (0.92, 1.0, 1.08):
                    scene = data.Scene(shape, "white", "black", position, size, scale=scale)
                    keys.append((shape, position, size))
                    masks.append(np.asarray(data.render(scene, resolution))[:, :, 0] > 127)
    return keys, np.stack(masks)


def read(pixels: np.ndarray) -> dict[str, str | None]:
    """The five attributes read from an RGB uint8 picture [H, W, 3]."""
    labels = palette_labels(pixels)
    h, w = labels.shape
    border = np.concatenate([labels[:2].ravel(), labels[-2:].ravel(), labels[:, :2].ravel(), labels[:, -2:].ravel()])
    background = int(np.bincount(border, minlength=len(_PALETTE)).argmax())
    inside = labels[labels != background]
    result: dict[str, str | None] = {"background": _PALETTE_NAMES[background], "colour": None, "position": None,
                                     "size": None, "shape": None}
    if inside.size < 4:
        return result
    colour = int(np.bincount(inside, minlength=len(_PALETTE)).argmax())
    result["colour"] = _PALETTE_NAMES[colour]
    mask = labels == colour
    keys, masks = templates(h)
    inter = (masks & mask[None]).sum(axis=(1, 2))
    union = (masks | mask[None]).sum(axis=(1, 2))
    best = int(np.argmax(inter / np.maximum(union, 1)))
    result["shape"], result["position"], result["size"] = keys[best]
    return result


def score(pictures, prompts) -> dict[str, float]:
    """Fraction of pictures whose read attribute equals what their prompt asks, per attribute, plus all-correct."""
    hits = {a: 0 for a in ATTRIBUTES}
    all_ok = 0
    for pixels, prompt in zip(pictures, prompts):
        want, got = data.parse_caption(prompt), read(np.asarray(pixels))
        ok = [want[a] == got[a] for a in ATTRIBUTES]
        for a, good in zip(ATTRIBUTES, ok):
            hits[a] += good
        all_ok += all(ok)
    n = max(len(prompts), 1)
    return {**{a: hits[a] / n for a in ATTRIBUTES}, "all": all_ok / n}
