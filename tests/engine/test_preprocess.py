"""Control-picture preprocessors: Canny edges against ComfyUI's implementation (kornia) and against the
picture's content; depth maps from a tiny random Depth Anything against transformers' own
depth-estimation pipeline."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from flux_core.preprocess import DepthEstimator, canny_edges


def shapes_picture(size=96, noise=0.0, seed=0):
    """Flat grey background, a light disc and a dark square: the edges are known."""
    img = Image.new("RGB", (size, size), (90, 110, 100))
    d = ImageDraw.Draw(img)
    d.ellipse((10, 10, 50, 50), fill=(220, 200, 180))
    d.rectangle((55, 40, 85, 85), fill=(20, 30, 40))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255)[None]
    if noise:
        x = (x + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
    return x


def test_canny_marks_the_outlines_and_nothing_in_flat_areas():
    edges = canny_edges(shapes_picture(), 0.1, 0.2)
    assert edges.shape == (1, 96, 96, 3) and set(edges.unique().tolist()) == {0.0, 1.0}
    e = edges[0, ..., 0]
    assert e[60:66, 60:80].sum() == 0 and e[25:35, 25:35].sum() == 0  # inside the square, inside the disc
    assert e[2:8, :].sum() == 0  # the flat background
    assert e[38:88, 53:58].sum(dim=1).gt(0).float().mean() > 0.9  # the square's left side, row after row
    assert e[:, 40:90].sum() > 0 and e.mean() < 0.1


@pytest.mark.parametrize("noise", [0.0, 0.03])
@pytest.mark.parametrize("thresholds", [(0.4, 0.8), (0.1, 0.3)])
def test_canny_agrees_with_comfyuis_kornia_canny(noise, thresholds):
    from kornia.filters import canny

    picture = shapes_picture(noise=noise, seed=1)
    ours = canny_edges(picture, *thresholds)[0, ..., 0] > 0.5
    theirs = canny(picture.permute(0, 3, 1, 2), *thresholds)[1][0, 0] > 0.5
    assert theirs.sum() > 50
    agreement = (ours == theirs).float().mean().item()
    assert agreement > 0.998, agreement


def test_canny_refuses_crossed_thresholds():
    with pytest.raises(ValueError, match="thresholds"):
        canny_edges(shapes_picture(), 0.8, 0.4)


@pytest.fixture(scope="module")
def depth_folder(tmp_path_factory):
    from tests.nodes.control_models import write_depth_model

    return write_depth_model(tmp_path_factory.mktemp("depth") / "depth-anything-tiny")


def test_depth_map_equals_transformers_depth_estimation_pipeline(depth_folder):
    from transformers import pipeline

    picture = shapes_picture(size=80)[:, :, :72]  # not square: the map must come back at the picture's size
    ours = DepthEstimator(depth_folder).depth_map(picture)
    assert ours.shape == (1, 80, 72, 3) and torch.equal(ours[..., 0], ours[..., 2])
    pil = Image.fromarray((picture[0].numpy() * 255).round().astype(np.uint8))
    reference = pipeline("depth-estimation", model=str(depth_folder))(pil)
    theirs = reference["predicted_depth"].float()
    theirs = (theirs - theirs.min()) / (theirs.max() - theirs.min())
    assert theirs.std() > 0.05
    torch.testing.assert_close(ours[0, ..., 0], theirs.reshape(80, 72), rtol=0, atol=2e-3)
