"""Socket types and the one rule that says which output may feed which input.

The executor's validation and the canvas both use `can_connect`; the canvas gets the same
table through the node catalogue (`catalogue_types`), so the two never disagree.
"""
from __future__ import annotations

ANY = "*"

# name -> (colour on the canvas, what a value of this type is)
SOCKET_TYPES: dict[str, tuple[str, str]] = {
    "MODEL": ("#b39ddb", "a FLUX diffusion transformer, ready to sample with"),
    "TEXT_ENCODER": ("#ffd54f", "the T5 + CLIP text encoders with their tokenizers"),
    "VAE": ("#ef9a9a", "the FLUX autoencoder (pixels <-> 16-channel latents)"),
    "CONDITIONING": ("#ffb74d", "encoded prompt: T5 sequence, CLIP pooled vector, guidance"),
    "LATENT": ("#f48fb1", "a batch of 16-channel latents that knows its pixel size"),
    "IMAGE": ("#64b5f6", "a batch of RGB pictures, values 0..1, channels last"),
    "MASK": ("#81d4fa", "a batch of masks [B, H, W], values 0..1, 1 = paint here"),
    "NOISE": ("#90a4ae", "a seeded noise source"),
    "SIGMAS": ("#4db6ac", "a decreasing list of noise levels ending at 0"),
    "INT": ("#aed581", "a whole number"),
    "FLOAT": ("#81c784", "a real number"),
    "STRING": ("#80cbc4", "text"),
    "BOOLEAN": ("#9575cd", "true or false"),
    ANY: ("#e0e0e0", "any value"),
}

# Lossless widenings a link may make on the way (an INT fits a FLOAT input).
_WIDENINGS = {("INT", "FLOAT")}


def is_known(type_name: str) -> bool:
    return type_name in SOCKET_TYPES


def register_type(name: str, colour: str = "#bdbdbd", description: str = "") -> None:
    """Let a node pack add a socket type of its own (idempotent for the same name)."""
    if not name or not name.replace("_", "").isalnum() or name != name.upper():
        raise ValueError(f"socket type names are UPPER_CASE words, got {name!r}")
    SOCKET_TYPES.setdefault(name, (colour, description))


def can_connect(output_type: str, input_type: str) -> bool:
    """True when a value of `output_type` may be linked into an input declared as `input_type`."""
    if output_type == ANY or input_type == ANY:
        return True
    return output_type == input_type or (output_type, input_type) in _WIDENINGS


def why_not(output_type: str, input_type: str) -> str | None:
    """A short reason a person can read when a link is refused, or None when it is allowed."""
    if can_connect(output_type, input_type):
        return None
    return f"a {output_type} output cannot feed a {input_type} input"


def catalogue_types() -> dict:
    """The type table for the canvas: colours, descriptions and the allowed widenings."""
    return {
        "types": {name: {"color": c, "description": d} for name, (c, d) in SOCKET_TYPES.items()},
        "any": ANY,
        "widenings": sorted([list(pair) for pair in _WIDENINGS]),
    }
