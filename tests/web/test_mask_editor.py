"""The canvas's mask editor: the server functions (no browser) and the painting in a real browser, checked
against the file the server wrote and the mask LoadImage reads from it."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from web.mask_editor import read_input_picture, save_masked_picture

from .test_canvas_e2e import doc, node, open_workflow


def png64(im) -> str:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
def with_picture(executor):
    folder = executor.env.input_dir
    folder.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGBA", (8, 4), (200, 100, 50, 255))
    im.putpixel((1, 1), (200, 100, 50, 0))  # one transparent pixel: already masked
    im.save(folder / "pic.png")
    return executor


def test_read_and_save_keep_colours_under_the_mask(with_picture):
    res = read_input_picture("pic.png", with_picture)
    assert res["ok"] and (res["width"], res["height"]) == (8, 4)
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(res["mask"]))))
    assert mask[1, 1] == 255 and mask.sum() == 255  # transparent pixel = painted
    painted = Image.new("L", (8, 4), 0)
    painted.paste(255, (4, 0, 8, 4))  # the right half
    saved = save_masked_picture({"name": "pic.png", "mask": png64(painted)}, with_picture)
    assert saved["ok"] and saved["name"] == "pic-mask.png"
    out = np.asarray(Image.open(with_picture.env.input_dir / "pic-mask.png"))
    assert out.shape == (4, 8, 4)
    assert (out[:, :4, 3] == 255).all() and (out[:, 4:, 3] == 0).all()
    assert (out[..., :3] == (200, 100, 50)).all()  # colours kept even where fully transparent
    again = save_masked_picture({"name": "pic-mask.png", "mask": png64(painted)}, with_picture)
    assert again["ok"] and again["name"] == "pic-mask.png"  # the same content is not written twice


@pytest.mark.parametrize("request_, words", [
    ({"name": "../etc/passwd", "mask": "AAAA"}, "image name"),
    ({"name": "missing.png", "mask": "AAAA"}, "missing.png"),
    ({"name": "pic.png", "mask": "not base64!"}, "not a picture"),
    ({"name": "pic.png"}, "base64 PNG mask"),
])
def test_bad_requests_are_refused_with_a_reason(with_picture, request_, words):
    res = save_masked_picture(request_, with_picture)
    assert not res["ok"] and words in res["message"]


def test_mask_of_another_size_is_refused(with_picture):
    res = save_masked_picture({"name": "pic.png", "mask": png64(Image.new("L", (3, 3)))}, with_picture)
    assert not res["ok"] and "3x3" in res["message"] and "8x4" in res["message"]


# ------------------------------------------------------------------ in the browser

@pytest.mark.e2e
def test_paint_erase_invert_and_save_a_mask(page, tmp_path, module_executor):
    folder = module_executor.env.input_dir
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (20, 120, 220)).save(folder / "sky.png")
    open_workflow(page, doc([("img", "LoadImage", {"image": "sky.png", "fit": "none"}, (0, 0))]), tmp_path)
    node(page, "img").locator('[data-mask-editor="open"]').click()
    view = page.locator('[data-mask-editor="canvas"]')
    view.wait_for()
    box = view.bounding_box()

    def at(fx, fy):
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    page.locator('[data-mask-editor="brush"]').fill("8")
    page.mouse.move(*at(0.1, 0.5))  # a horizontal stroke across the middle
    page.mouse.down()
    page.mouse.move(*at(0.9, 0.5), steps=10)
    page.mouse.up()
    page.click('[data-mask-editor="erase"]')
    page.mouse.move(*at(0.75, 0.5))  # erase its right end
    page.mouse.down()
    page.mouse.move(*at(0.95, 0.5), steps=5)
    page.mouse.up()
    page.click('[data-mask-editor="save"]')
    page.wait_for_function(
        "() => document.querySelector('.fw-node[data-node-id=\"img\"] select').value === 'sky-mask.png'")
    assert page.locator('[data-mask-editor="dialog"]').count() == 0
    alpha = np.asarray(Image.open(folder / "sky-mask.png"))[..., 3]
    assert alpha[32, 16] == 0 and alpha[32, 40] == 0  # painted = transparent
    assert alpha[32, 56] == 255 and alpha[10, 32] == 255 and alpha[54, 32] == 255  # erased / never painted
    rgb = np.asarray(Image.open(folder / "sky-mask.png"))[..., :3]
    assert (rgb == (20, 120, 220)).all()
    # reopen the saved picture: the mask comes back; invert it and save again
    node(page, "img").locator('[data-mask-editor="open"]').click()
    page.locator('[data-mask-editor="canvas"]').wait_for()
    page.click('[data-mask-editor="invert"]')
    page.click('[data-mask-editor="save"]')
    page.wait_for_function(
        "() => document.querySelector('.fw-node[data-node-id=\"img\"] select').value === 'sky-mask-1.png'")
    inverted = np.asarray(Image.open(folder / "sky-mask-1.png"))[..., 3]
    assert inverted[32, 16] == 255 and inverted[10, 32] == 0
    # and LoadImage reads it as a MASK: 1 where painted
    result = module_executor.run(doc([("img", "LoadImage", {"image": "sky-mask.png", "fit": "none"}, (0, 0)),
                                      ("show", "ShowValue", {}, (0, 0))], [("img", "mask", "show", "value")]))
    mask = result.outputs["img"]["mask"]
    assert float(mask[0, 32, 16]) == 1.0 and float(mask[0, 10, 32]) == 0.0
