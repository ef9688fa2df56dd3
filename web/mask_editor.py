"""The server side of the canvas's mask editor: send an input picture and its mask to the browser, and
save the painted mask with the picture as a new input picture (its alpha channel: transparent = paint,
which is what LoadImage's mask output reads). The picture's colours are composed here, not in the
browser, because a browser canvas loses the colour of fully transparent pixels."""
from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from .canvas import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, save_uploaded_image


def _png(im) -> str:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _open_input(name: Any, executor):
    """(RGB picture, L mask with 255 = paint) of an input picture, or a refusal sentence."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from flux_core.graph.node import NodeError
    from nodes.flux.folders import input_image_path

    if not isinstance(name, str) or not name:
        return None, "choose a picture first"
    try:
        path = input_image_path(executor.env, name)
        with Image.open(path) as im:
            if im.width * im.height > MAX_UPLOAD_PIXELS:
                return None, f"{name} is {im.width}x{im.height}, larger than the mask editor accepts"
            rgba = ImageOps.exif_transpose(im).convert("RGBA")
    except NodeError as e:
        return None, str(e)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return None, f"cannot read {name} as a picture: {e}"
    return (rgba.convert("RGB"), ImageOps.invert(rgba.getchannel("A"))), None


def read_input_picture(name: Any, executor) -> dict:
    """{ok, picture, mask, width, height}: base64 PNGs of the picture's colours and of its mask."""
    opened, problem = _open_input(name, executor)
    if problem:
        return {"ok": False, "message": problem}
    rgb, mask = opened
    return {"ok": True, "picture": _png(rgb), "mask": _png(mask), "width": rgb.width, "height": rgb.height}


def save_masked_picture(request: Any, executor) -> dict:
    """{name, mask: base64 PNG, painted = bright} -> the picture with that mask as its alpha channel, saved
    as a new input picture "<name>-mask.png" (never overwriting) -> {ok, name, message}."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(request, dict) or not isinstance(request.get("mask"), str):
        return {"ok": False, "name": None, "message": "the request must be {name, mask} with a base64 PNG mask"}
    opened, problem = _open_input(request.get("name"), executor)
    if problem:
        return {"ok": False, "name": None, "message": problem}
    rgb, _ = opened
    if len(request["mask"]) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        return {"ok": False, "name": None, "message": "the mask is too large"}
    try:
        with Image.open(io.BytesIO(base64.b64decode(request["mask"], validate=True))) as im:
            if im.size != rgb.size:
                return {"ok": False, "name": None,
                        "message": f"the mask is {im.width}x{im.height} but the picture is {rgb.width}x{rgb.height}"}
            mask = im.convert("L")  # a grey picture: white = paint (any alpha channel is ignored)
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, SyntaxError) as e:
        return {"ok": False, "name": None, "message": f"the mask is not a picture ({e})"}
    from PIL import ImageOps

    picture = rgb.copy()
    picture.putalpha(ImageOps.invert(mask))
    stem = str(request["name"]).rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if stem.endswith("-mask"):
        stem = stem[:-5]
    return save_uploaded_image({"name": f"{stem}-mask.png", "data": _png(picture)}, executor)
