"""The flux-mini dataset: one coloured shape on a plain background, drawn with Pillow, plus its caption.

Everything is a pure function of a seed, so the training set, the scorer's reference pictures and
the test prompts are reproducible on any machine. Shapes are drawn at 4x the target size and
box-filtered down, which gives clean anti-aliased edges the autoencoder can learn quickly.

Caption grammar (from issue 5):
``{a|an} {size} {colour} {shape} on {a|an} {background} background, {position}``; the size word
and the position part may be left out, and then mean "large" and "center".
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (245, 220, 30),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "star")
# Shape centre as a fraction of the picture's width and height.
POSITIONS: dict[str, tuple[float, float]] = {
    "top left": (0.33, 0.33),
    "top right": (0.67, 0.33),
    "bottom left": (0.33, 0.67),
    "bottom right": (0.67, 0.67),
    "center": (0.5, 0.5),
}
# Shape "radius" as a fraction of the picture's side. "small" is deliberately not very small:
# at 64 px a FLUX autoencoder (8x downsampling) turns a star of radius 0.12 into a blob
# (flux-mini-notes, section 3), so small shapes are two thirds of the large ones.
SIZES: dict[str, float] = {"small": 0.21, "large": 0.31}
DEFAULT_SIZE = "large"
DEFAULT_POSITION = "center"

POSITION_JITTER = 0.03  # fraction of the side, uniform +-
SIZE_JITTER = 0.08  # relative, uniform +-
SUPERSAMPLE = 4


@dataclass(frozen=True)
class Scene:
    """What a picture shows; ``dx``, ``dy`` and ``scale`` are the random jitter around the nominal layout."""

    shape: str
    colour: str
    background: str
    position: str = DEFAULT_POSITION
    size: str = DEFAULT_SIZE
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0

    def attributes(self) -> dict[str, str]:
        """The five attributes a caption names and the scorer reads back."""
        return {
            "background": self.background,
            "colour": self.colour,
            "position": self.position,
            "size": self.size,
            "shape": self.shape,
        }


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(scene: Scene, with_size: bool = True, with_position: bool = True) -> str:
    """The caption of a scene; size/position may only be left out when they are the defaults."""
    if not with_size and scene.size != DEFAULT_SIZE:
        raise ValueError(f"only the default size {DEFAULT_SIZE!r} may be left out of a caption")
    if not with_position and scene.position != DEFAULT_POSITION:
        raise ValueError(f"only the default position {DEFAULT_POSITION!r} may be left out of a caption")
    words = ([scene.size] if with_size else []) + [scene.colour, scene.shape]
    text = f"{article(words[0])} {' '.join(words)} on {article(scene.background)} {scene.background} background"
    return f"{text}, {scene.position}" if with_position else text


def parse_caption(text: str) -> dict[str, str]:
    """The attributes a caption asks for (defaults filled in); raises ValueError on other grammar."""
    body, _, position = text.strip().partition(", ")
    words = body.split()
    try:
        on = words.index("on")
        obj, bg = words[1:on], words[on + 2 : -1]
        if words[-1] != "background" or len(bg) != 1 or words[0] not in ("a", "an"):
            raise ValueError
        size = obj[0] if len(obj) == 3 else DEFAULT_SIZE
        colour, shape = obj[-2], obj[-1]
    except (ValueError, IndexError):
        raise ValueError(f"caption {text!r} does not follow the flux-mini grammar") from None
    attrs = {
        "background": bg[0],
        "colour": colour,
        "position": position or DEFAULT_POSITION,
        "size": size,
        "shape": shape,
    }
    ok = (
        attrs["background"] in COLOURS
        and colour in COLOURS
        and shape in SHAPES
        and size in SIZES
        and attrs["position"] in POSITIONS
    )
    if not ok:
        raise ValueError(f"caption {text!r} names an unknown colour, shape, size or position")
    return attrs


def random_scene(rng: random.Random) -> Scene:
    colour, background = rng.sample(list(COLOURS), 2)
    return Scene(
        shape=rng.choice(SHAPES),
        colour=colour,
        background=background,
        position=rng.choice(list(POSITIONS)),
        size=rng.choice(list(SIZES)),
        dx=rng.uniform(-POSITION_JITTER, POSITION_JITTER),
        dy=rng.uniform(-POSITION_JITTER, POSITION_JITTER),
        scale=rng.uniform(1 - SIZE_JITTER, 1 + SIZE_JITTER),
    )


def random_caption(scene: Scene, rng: random.Random, drop: float = 0.4) -> str:
    """Caption a scene, leaving out a default size or position word with probability ``drop``."""
    with_size = scene.size != DEFAULT_SIZE or rng.random() >= drop
    with_position = scene.position != DEFAULT_POSITION or rng.random() >= drop
    return caption(scene, with_size, with_position)


def shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    """Vertices of a shape around (cx, cy) with "radius" r; None for the circle (drawn as an ellipse).

    The factors make the four shapes roughly equally heavy, so size is readable from area.
    """
    if shape == "circle":
        return None
    if shape == "square":
        h = 0.88 * r
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        # Upright equilateral triangle whose bounding box is centred on (cx, cy).
        side = 2.1 * r
        height = side * math.sqrt(3) / 2
        return [(cx, cy - height / 2), (cx + side / 2, cy + height / 2), (cx - side / 2, cy + height / 2)]
    if shape == "star":
        outer, inner = 1.18 * r, 0.52 * r
        points = []
        for k in range(10):
            rad = outer if k % 2 == 0 else inner
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + rad * math.cos(angle), cy + rad * math.sin(angle) + 0.1 * r))
        return points
    raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    polygon = shape_polygon(shape, cx, cy, r)
    if polygon is None:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(polygon, fill=fill)


def scene_geometry(scene: Scene, side: float) -> tuple[float, float, float]:
    """Centre x, centre y and radius of the scene's shape in pixels of a ``side``-pixel picture."""
    fx, fy = POSITIONS[scene.position]
    return (fx + scene.dx) * side, (fy + scene.dy) * side, SIZES[scene.size] * scene.scale * side


def render(scene: Scene, resolution: int = 64) -> Image.Image:
    """Draw a scene as an RGB picture of ``resolution`` x ``resolution`` pixels."""
    big = resolution * SUPERSAMPLE
    image = Image.new("RGB", (big, big), COLOURS[scene.background])
    cx, cy, r = scene_geometry(scene, big)
    draw_shape(ImageDraw.Draw(image), scene.shape, cx, cy, r, COLOURS[scene.colour])
    return image.resize((resolution, resolution), Image.BOX)


def example(seed: int, resolution: int = 64) -> tuple[np.ndarray, str, Scene]:
    """One training example (uint8 HxWx3 pixels, caption, scene), fully determined by ``seed``."""
    rng = random.Random(seed)
    scene = random_scene(rng)
    return np.asarray(render(scene, resolution)), random_caption(scene, rng), scene


def dataset(count: int, seed: int, resolution: int = 64) -> tuple[np.ndarray, list[str], list[Scene]]:
    """``count`` examples as a uint8 array (N, H, W, 3) plus captions and scenes; example i uses seed*10**7+i."""
    pixels = np.empty((count, resolution, resolution, 3), dtype=np.uint8)
    captions, scenes = [], []
    for i in range(count):
        pixels[i], text, scene = example(seed * 10**7 + i, resolution)
        captions.append(text)
        scenes.append(scene)
    return pixels, captions, scenes


def all_captions() -> list[str]:
    """Every caption the grammar allows (the tokenizers' training corpus)."""
    out = []
    for shape in SHAPES:
        for colour in COLOURS:
            for background in COLOURS:
                if background == colour:
                    continue
                for size in SIZES:
                    for position in POSITIONS:
                        scene = Scene(shape, colour, background, position, size)
                        for with_size in (True, False):
                            for with_position in (True, False):
                                if (with_size or size == DEFAULT_SIZE) and (
                                    with_position or position == DEFAULT_POSITION
                                ):
                                    out.append(caption(scene, with_size, with_position))
    return sorted(set(out))


def vocabulary() -> list[str]:
    """The words (and the comma) captions are made of, in a fixed order."""
    words = ["a", "an", "on", "background", ","]
    words += list(SIZES) + list(COLOURS) + list(SHAPES)
    for position in POSITIONS:
        for word in position.split():
            if word not in words:
                words.append(word)
    return words


def evaluation_prompts(count: int = 48, seed: int = 2026) -> list[str]:
    """Fixed prompts for the quality test: shapes, sizes and positions balanced, colours seeded.

    Every fourth prompt leaves out a default word, as users do ("a red circle on a blue background").
    """
    rng = random.Random(seed)
    positions = list(POSITIONS)
    prompts = []
    for i in range(count):
        colour, background = rng.sample(list(COLOURS), 2)
        scene = Scene(
            shape=SHAPES[i % len(SHAPES)],
            colour=colour,
            background=background,
            position=positions[(i // 4) % len(positions)],
            size=list(SIZES)[(i // 2) % 2],
        )
        short = i % 4 == 3
        prompts.append(
            caption(
                scene,
                with_size=not (short and scene.size == DEFAULT_SIZE),
                with_position=not (short and scene.position == DEFAULT_POSITION),
            )
        )
    return prompts
