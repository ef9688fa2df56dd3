"""FLUX.1 Canny/Depth as a user meets it: ControlConditioning feeds the control picture's latent to a
control model (img_in 128), the picture steers the result, guidance defaults per model, clear errors."""
import shutil

import pytest
import torch

from flux_core import Executor, RunFailed

from .control_models import write_control_models


@pytest.fixture(scope="module")
def control_dir(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("control_models")
    shutil.copytree(models_dir, root, dirs_exist_ok=True)
    return write_control_models(root)


def control_doc(model="flux1-canny-dev.safetensors", control=True, guidance=None, picture="edges.png"):
    nodes = [
        {"id": "model", "type": "LoadDiffusionModel", "widgets": {"model_name": model}},
        {"id": "te", "type": "LoadTextEncoders", "widgets": {"t5_name": "t5xxl_fp16.safetensors",
                                                             "clip_name": "clip_l.safetensors"}},
        {"id": "vae", "type": "LoadVAE", "widgets": {"vae_name": "ae.safetensors"}},
        {"id": "prompt", "type": "TextEncode", "widgets": {"text": "a house"}},
        {"id": "picture", "type": "LoadImage", "widgets": {"image": picture}},
        {"id": "noise", "type": "RandomNoise", "widgets": {"seed": 1}},
        {"id": "latent", "type": "EmptyLatent", "widgets": {"width": 64, "height": 64}},
        {"id": "scheduler", "type": "Scheduler", "widgets": {"steps": 2}},
        {"id": "sampler", "type": "Sampler"},
    ]
    links = [("te", "text_encoder", "prompt", "text_encoder"), ("noise", "noise", "sampler", "noise"),
             ("model", "model", "scheduler", "model"), ("model", "model", "sampler", "model"),
             ("scheduler", "sigmas", "sampler", "sigmas")]
    cond = ("prompt", "conditioning")
    if guidance is not None:
        nodes.append({"id": "guidance", "type": "FluxGuidance", "widgets": {"guidance": guidance}})
        links.append((*cond, "guidance", "conditioning"))
        cond = ("guidance", "conditioning")
    if control:
        nodes.append({"id": "control", "type": "ControlConditioning"})
        links += [(*cond, "control", "conditioning"), ("vae", "vae", "control", "vae"),
                  ("picture", "image", "control", "image"), ("control", "latent", "scheduler", "latent"),
                  ("control", "latent", "sampler", "latent")]
        cond = ("control", "conditioning")
    else:
        links += [("latent", "latent", "scheduler", "latent"), ("latent", "latent", "sampler", "latent")]
    links.append((*cond, "sampler", "conditioning"))
    for n in nodes:
        n.setdefault("widgets", {})
    return {"format": "fluxwire.workflow", "version": 1, "nodes": nodes,
            "links": [{"from": a, "output": b, "to": c, "input": d} for a, b, c, d in links]}


@pytest.fixture
def executor(control_dir, tmp_path):
    from PIL import Image

    inputs = tmp_path / "in"
    inputs.mkdir()
    g = torch.Generator().manual_seed(0)
    for name, seed in (("edges.png", 0), ("other.png", 1)):
        edges = (torch.rand(72, 64, generator=torch.Generator().manual_seed(seed)) > 0.85).numpy() * 255
        Image.fromarray(edges.astype("uint8")).convert("RGB").save(inputs / name)
    del g
    return Executor(models_dir=control_dir, output_dir=tmp_path / "out", input_dir=inputs)


def run(executor, doc):
    return executor.run(doc, outputs=["sampler"])


def _latent(executor, doc):
    return run(executor, doc).outputs["sampler"]["latent"]


def test_control_picture_steers_the_canny_model(executor):
    a = _latent(executor, control_doc())
    assert (a.width, a.height) == (64, 64)  # 64x72 picture centre-cropped to multiples of 16
    b = _latent(executor, control_doc(picture="other.png"))
    assert (a.samples - b.samples).abs().max() > 1e-3


def test_guidance_defaults_to_30_for_canny_and_10_for_depth(executor):
    for model, value in (("flux1-canny-dev.safetensors", 30.0), ("flux1-depth-dev.safetensors", 10.0)):
        default = _latent(executor, control_doc(model))
        explicit = _latent(executor, control_doc(model, guidance=value))
        other = _latent(executor, control_doc(model, guidance=3.5))
        torch.testing.assert_close(default.samples, explicit.samples)
        assert (default.samples - other.samples).abs().max() > 1e-4


def test_control_model_without_a_control_picture_is_refused_by_name(executor):
    with pytest.raises(RunFailed) as e:
        run(executor, control_doc(control=False))
    assert (e.value.node_id, e.value.input) == ("sampler", "conditioning")
    assert "ControlConditioning" in e.value.message


def test_control_picture_on_an_ordinary_model_is_refused(executor):
    with pytest.raises(RunFailed) as e:
        run(executor, control_doc("flux1-dev.safetensors"))
    assert e.value.input == "conditioning" and "Canny/Depth" in e.value.message


def preprocess_doc(node, widgets):
    return {"format": "fluxwire.workflow", "version": 1,
            "nodes": [{"id": "picture", "type": "LoadImage", "widgets": {"image": "edges.png"}},
                      {"id": "map", "type": node, "widgets": widgets}],
            "links": [{"from": "picture", "output": "image", "to": "map", "input": "image"}]}


def test_canny_and_depth_nodes_give_maps_of_the_pictures_size(executor):
    edges = executor.run(preprocess_doc("Canny", {"low_threshold": 0.2, "high_threshold": 0.5}),
                         outputs=["map"]).outputs["map"]["image"]
    depth = executor.run(preprocess_doc("DepthMap", {"depth_model": "depth-anything-v2-small"}),
                         outputs=["map"]).outputs["map"]["image"]
    assert edges.shape == depth.shape == (1, 72, 64, 3)
    assert set(edges.unique().tolist()) == {0.0, 1.0}
    assert depth.min() == 0 and depth.max() == 1


def test_canny_with_crossed_thresholds_names_the_input(executor):
    with pytest.raises(RunFailed) as e:
        executor.run(preprocess_doc("Canny", {"low_threshold": 0.6, "high_threshold": 0.3}), outputs=["map"])
    assert (e.value.node_id, e.value.input) == ("map", "low_threshold")
