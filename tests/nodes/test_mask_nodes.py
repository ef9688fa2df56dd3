"""Picture and mask nodes in workflows: reading input pictures (bad files, EXIF), LoadImage's alpha mask, LoadMask
channels, pad/crop/stitch through the executor, and how saved pixels are made."""

import pytest
import torch

from flux_core import Executor, RunFailed


@pytest.fixture
def executor(tmp_path):
    from PIL import Image

    inputs = tmp_path / "in"
    inputs.mkdir()
    im = Image.new("RGBA", (32, 16), (10, 200, 30, 255))
    for x in range(8, 16):
        for y in range(4, 12):
            im.putpixel((x, y), (10, 200, 30, 0))  # a transparent hole = to paint
    im.save(inputs / "hole.png")
    Image.new("RGB", (32, 16), (0, 128, 255)).save(inputs / "solid.jpg")
    return Executor(output_dir=tmp_path / "out", input_dir=inputs)


def run(executor, nodes, links, node, output):
    doc = {"format": "fluxwire.workflow", "version": 1, "nodes": nodes + [
        {"id": "show", "type": "ShowValue", "widgets": {}}],
        "links": links + [{"from": node, "output": output, "to": "show", "input": "value"}]}
    return executor.run(doc).outputs[node][output]


def test_load_image_mask_from_alpha_and_without_alpha(executor):
    img = {"id": "img", "type": "LoadImage", "widgets": {"image": "hole.png", "fit": "none"}}
    mask = run(executor, [img], [], "img", "mask")
    expected = torch.zeros(1, 16, 32)
    expected[0, 4:12, 8:16] = 1
    assert torch.equal(mask, expected)
    img["widgets"]["image"] = "solid.jpg"
    assert torch.equal(run(executor, [img], [], "img", "mask"), torch.zeros(1, 16, 32))


@pytest.mark.parametrize("channel, expected", [("alpha", 1.0), ("green", 200 / 255), ("red", 10 / 255)])
def test_load_mask_channels(executor, channel, expected):
    node = {"id": "m", "type": "LoadMask", "widgets": {"image": "hole.png", "channel": channel}}
    mask = run(executor, [node], [], "m", "mask")
    assert mask.shape == (1, 16, 32)
    assert float(mask[0, 5, 9]) == pytest.approx(expected, abs=1e-6)


def test_pad_grow_invert_chain(executor):
    nodes = [{"id": "img", "type": "LoadImage", "widgets": {"image": "solid.jpg", "fit": "none"}},
             {"id": "pad", "type": "PadForOutpaint",
              "widgets": {"left": 16, "top": 0, "right": 0, "bottom": 8, "feathering": 0}},
             {"id": "grow", "type": "GrowMask", "widgets": {"expand": 2, "tapered_corners": False}},
             {"id": "inv", "type": "InvertMask", "widgets": {}}]
    links = [{"from": "img", "output": "image", "to": "pad", "input": "image"},
             {"from": "pad", "output": "mask", "to": "grow", "input": "mask"},
             {"from": "grow", "output": "mask", "to": "inv", "input": "mask"}]
    kept = run(executor, nodes, links, "inv", "mask")
    assert kept.shape == (1, 24, 48)
    expected = torch.zeros(24, 48)
    expected[:14, 18:] = 1  # the old picture (16 x 32 at x 16) shrunk by 2 px on its padded sides
    assert torch.equal(kept[0], expected)


def test_crop_of_an_empty_mask_names_the_input(executor):
    nodes = [{"id": "img", "type": "LoadImage", "widgets": {"image": "solid.jpg", "fit": "none"}},
             {"id": "crop", "type": "CropToMask", "widgets": {"context": 8}}]
    links = [{"from": "img", "output": "image", "to": "crop", "input": "image"},
             {"from": "img", "output": "mask", "to": "crop", "input": "mask"}]
    with pytest.raises(RunFailed) as e:
        run(executor, nodes, links, "crop", "image")
    assert (e.value.node_id, e.value.input) == ("crop", "mask") and "empty" in e.value.message


@pytest.fixture
def bad_pictures(executor):
    """A truncated PNG, a text file with a picture's name, and a picture larger than fluxwire accepts."""
    from PIL import Image

    folder = executor.env.input_dir
    whole = folder / "hole.png"
    (folder / "truncated.png").write_bytes(whole.read_bytes()[:60])
    (folder / "notes.png").write_text("not a picture")
    Image.new("1", (8200, 8200)).save(folder / "huge.png")  # 1-bit: a small file declaring 67 Mpx
    return executor


@pytest.mark.parametrize("node_type, extra", [("LoadImage", {"fit": "none"}), ("LoadMask", {"channel": "alpha"})])
@pytest.mark.parametrize("name, says", [("truncated.png", "cannot read truncated.png as a picture"),
                                        ("notes.png", "cannot read notes.png as a picture"),
                                        ("huge.png", "huge.png is 8200x8200, larger than fluxwire accepts")])
def test_a_bad_input_picture_names_the_node_and_input(bad_pictures, node_type, extra, name, says):
    node = {"id": "pic", "type": node_type, "widgets": {"image": name, **extra}}
    with pytest.raises(RunFailed) as e:
        run(bad_pictures, [node], [], "pic", "mask")
    assert (e.value.node_id, e.value.input) == ("pic", "image") and says in e.value.message


def test_exif_orientation_is_applied_by_both_loaders(executor):
    """A phone picture stored sideways with EXIF orientation 6 (rotate 90° clockwise to view) loads upright."""
    from PIL import Image

    stored = Image.new("RGBA", (32, 16), (0, 0, 0, 255))
    stored.putpixel((0, 0), (255, 0, 0, 0))  # top-left as stored: red and transparent
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(executor.env.input_dir / "sideways.png", exif=exif)
    image = run(executor, [{"id": "i", "type": "LoadImage", "widgets": {"image": "sideways.png", "fit": "none"}}],
                [], "i", "image")
    mask = run(executor, [{"id": "m", "type": "LoadMask", "widgets": {"image": "sideways.png", "channel": "alpha"}}],
               [], "m", "mask")
    assert image.shape == (1, 32, 16, 3) and mask.shape == (1, 32, 16)
    # viewed upright, the stored top-left corner is the top-right one
    assert float(image[0, 0, 15, 0]) == 1.0 and float(mask[0, 0, 15]) == 1.0 and float(mask[0, 0, 0]) == 0.0


def test_saved_pixels_are_truncated_as_comfyui_saves_them(executor):
    """SaveImage turns 0..1 floats into bytes as ComfyUI's SaveImage does (×255 in float32, clip, truncate), so
    the same decoded picture gives the same PNG in both; checked with torch's own float→uint8 conversion."""
    import numpy as np
    from PIL import Image

    nodes = [{"id": "img", "type": "LoadImage", "widgets": {"image": "hole.png", "fit": "none"}},
             {"id": "big", "type": "ImageScale",
              "widgets": {"upscale_method": "bilinear", "width": 45, "height": 23, "crop": "disabled"}},
             {"id": "save", "type": "SaveImage", "widgets": {"filename_prefix": "trunc"}}]
    links = [{"from": "img", "output": "image", "to": "big", "input": "image"},
             {"from": "big", "output": "image", "to": "save", "input": "images"}]
    scaled = run(executor, nodes, links, "big", "image")
    expected = (scaled[0].float() * 255).clamp(0, 255).to(torch.uint8)
    rounded = (scaled[0].float() * 255).round().clamp(0, 255).to(torch.uint8)
    assert not torch.equal(expected, rounded)  # the picture has values where the two rules differ
    (saved,) = sorted(executor.env.output_dir.glob("trunc*.png"))
    with Image.open(saved) as png:
        assert torch.equal(torch.from_numpy(np.array(png.convert("RGB"))), expected)
