"""The FLUX nodes as a user meets them: caching across edits, clear errors for wrong combinations,
one Euler step at a time equal to the whole sampler, ComfyUI's noise, interrupt, safe files."""
import json
import os
import threading
from pathlib import Path

import pytest
import torch

from flux_core import Executor, RunFailed, RunInterrupted, WorkflowError, load_workflow
from flux_core.graph.workflow import parse_document

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def shipped(name, **changes):
    """A shipped workflow as a dict, with widget changes given as {"node.input": value} and 128 px latents."""
    doc = json.loads((WORKFLOWS / name).read_text())
    for node in doc["nodes"]:
        if node["type"] == "EmptyLatent":
            node["widgets"].update(width=128, height=128)
    for key, value in changes.items():
        nid, name_ = key.split(".")
        next(n for n in doc["nodes"] if n["id"] == nid)["widgets"][name_] = value
    return doc


@pytest.fixture
def executor(models_dir, tmp_path):
    return Executor(models_dir=models_dir, output_dir=tmp_path / "out", input_dir=tmp_path / "in")


def test_caching_as_a_user_sees_it(executor):
    first = executor.run(shipped("flux-schnell.json"))
    assert {"model", "text_encoders", "vae"} <= set(first.executed)
    again = executor.run(shipped("flux-schnell.json"))
    assert again.executed == ["save"]  # each model loaded once; the output node runs for every run
    seed = executor.run(shipped("flux-schnell.json", **{"noise.seed": 7}))
    assert sorted(seed.executed) == ["decode", "noise", "sampler", "save"]
    prompt = executor.run(shipped("flux-schnell.json", **{"noise.seed": 7, "prompt.text": "a red fox"}))
    assert sorted(prompt.executed) == ["decode", "prompt", "sampler", "save"]
    assert "model" not in prompt.executed and "text_encoders" not in prompt.executed
    prefix = executor.run(shipped("flux-schnell.json", **{"noise.seed": 7, "prompt.text": "a red fox",
                                                            "save.filename_prefix": "other"}))
    assert prefix.executed == ["save"]
    assert Path(prefix.ui["save"]["images"][0]).name == "other_00001.png"


def test_replacing_a_model_file_reloads_it(executor, models_dir, tmp_path):
    import shutil

    own = tmp_path / "models"
    shutil.copytree(models_dir, own)
    ex = Executor(models_dir=own, output_dir=tmp_path / "out")
    ex.run(shipped("flux-schnell.json"))
    path = own / "vae" / "ae.safetensors"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    result = ex.run(shipped("flux-schnell.json"))
    assert sorted(result.executed) == ["decode", "save", "vae"]


def test_dev_guidance_into_a_schnell_model_fails_naming_the_input(executor):
    doc = shipped("flux-dev.json", **{"model.model_name": "flux1-schnell.safetensors"})
    with pytest.raises(RunFailed) as e:
        executor.run(doc)
    assert (e.value.node_id, e.value.input) == ("sampler", "conditioning")
    assert "guidance" in e.value.message and "FluxGuidance" in e.value.message


def test_latent_with_the_wrong_channel_count_is_refused(executor):
    from flux_core.graph.node import Node, Output
    from flux_core.graph.registry import discover
    from nodes.flux.values import Latent

    class FourChannelLatent(Node):
        """An SD-style 4-channel latent."""
        outputs = [Output("latent", "LATENT")]

        def run(self, ctx):
            return Latent(torch.zeros(1, 4, 16, 16), 128, 128)

    registry = discover(executor.env.temp_dir / "no-packs", entry_points=False)
    registry.add_pack("test_latents", [FourChannelLatent])
    doc = shipped("flux-schnell.json")
    doc["nodes"].append({"id": "sd", "type": "FourChannelLatent", "widgets": {}})
    for link in doc["links"]:
        if link["from"] == "latent":
            link["from"], link["output"] = "sd", "latent"
    with pytest.raises(RunFailed) as e:
        Executor(registry, models_dir=executor.env.models_dir, output_dir=executor.env.output_dir).run(doc)
    assert e.value.input == "latent" and "4 channels" in e.value.message and "16" in e.value.message


def test_four_sampler_steps_by_hand_equal_the_sampler(executor):
    by_hand = executor.run(shipped("flux-step-by-step.json"), outputs=["step4"]).outputs["step4"]["latent"]
    whole = executor.run(shipped("flux-schnell.json"), outputs=["sampler"]).outputs["sampler"]["latent"]
    assert torch.equal(by_hand.samples, whole.samples)
    one_step = executor.run(shipped("flux-step-by-step.json"), outputs=["step1"]).outputs["step1"]["latent"]
    assert not torch.allclose(one_step.samples, whole.samples)


def test_step_past_the_schedule_is_refused(executor):
    with pytest.raises(RunFailed) as e:
        executor.run(shipped("flux-step-by-step.json", **{"step4.step": 4}))
    assert (e.value.node_id, e.value.input) == ("step4", "step")


def test_noise_is_comfyuis_for_the_same_seed_and_size(executor):
    seed = 2**40 + 123
    doc = shipped("flux-step-by-step.json", **{"noise.seed": seed})
    start = executor.run(doc, outputs=["start"]).outputs["start"]["latent"].samples
    torch.manual_seed(seed)  # ComfyUI: global CPU generator, one randn for the whole batch
    expected = torch.randn((1, 16, 128 // 8, 128 // 8), dtype=torch.float32, device="cpu")
    assert torch.equal(start, expected)


def test_sampler_reports_progress_with_previews_and_stops_when_interrupted(executor):
    progress = []
    result = executor.run(shipped("flux-schnell.json"), listener=lambda e: progress.append(e)
                          if e["type"] == "node_progress" else None)
    steps = [(e["value"], e["max"]) for e in progress if e["node"] == "sampler"]
    assert steps == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    previews = [e["preview"] for e in progress if e["preview"] is not None]
    assert len(previews) == 4 and previews[0].size[0] > 0

    def stop_at_step_two(event):
        if event["type"] == "node_progress" and event["node"] == "sampler" and event["value"] == 2:
            executor.interrupt()

    with pytest.raises(RunInterrupted) as e:
        executor.run(shipped("flux-schnell.json", **{"noise.seed": 99}), listener=stop_at_step_two)
    assert e.value.node_id == "sampler" and "save" not in e.value.result.executed


def test_save_never_overwrites(executor):
    out = Path(executor.env.output_dir)
    out.mkdir(parents=True)
    (out / "keep_00001.png").write_bytes(b"precious")
    first = executor.run(shipped("flux-schnell.json", **{"save.filename_prefix": "keep"}))
    second = executor.run(shipped("flux-schnell.json", **{"save.filename_prefix": "keep", "noise.seed": 5}))
    names = [Path(r.ui["save"]["images"][0]).name for r in (first, second)]
    assert names == ["keep_00002.png", "keep_00003.png"]
    assert (out / "keep_00001.png").read_bytes() == b"precious"
    with pytest.raises(RunFailed) as e:
        executor.run(shipped("flux-schnell.json", **{"save.filename_prefix": "../escape"}))
    assert e.value.input == "filename_prefix"


@pytest.mark.parametrize("bad_name", ["../vae/ae.safetensors", "/etc/passwd", "sub/../../x.safetensors"])
def test_model_names_cannot_leave_the_models_folder(executor, bad_name):
    with pytest.raises(WorkflowError) as e:
        executor.run(shipped("flux-schnell.json", **{"model.model_name": bad_name}))
    assert (e.value.problems[0].node, e.value.problems[0].input) == ("model", "model_name")


def test_symlink_leaving_the_models_folder_is_refused(models_dir, tmp_path):
    import shutil

    own = tmp_path / "models"
    shutil.copytree(models_dir, own)
    outside = tmp_path / "outside.safetensors"
    shutil.copy(own / "diffusion_models" / "flux1-schnell.safetensors", outside)
    (own / "diffusion_models" / "linked.safetensors").symlink_to(outside)
    with pytest.raises(WorkflowError) as e:
        Executor(models_dir=own).run(shipped("flux-schnell.json", **{"model.model_name": "linked.safetensors"}))
    assert "outside" in e.value.problems[0].message


def test_load_image_reports_a_broken_picture_and_fits_sizes(executor, tmp_path):
    from PIL import Image

    inputs = Path(executor.env.input_dir)
    inputs.mkdir(parents=True)
    Image.new("RGB", (100, 70), (200, 10, 10)).save(inputs / "odd.png")
    (inputs / "broken.png").write_bytes(b"\x89PNG not really")
    doc = {"format": "fluxwire.workflow", "version": 1, "nodes": [
        {"id": "img", "type": "LoadImage", "widgets": {"image": "odd.png", "fit": "crop"}},
        {"id": "show", "type": "ShowValue", "widgets": {}}],
        "links": [{"from": "img", "output": "image", "to": "show", "input": "value"}]}
    for fit, shape in (("crop", (1, 64, 96, 3)), ("resize", (1, 64, 96, 3)), ("none", (1, 70, 100, 3))):
        doc["nodes"][0]["widgets"]["fit"] = fit
        image = executor.run(doc).outputs["img"]["image"]
        assert tuple(image.shape) == shape
        assert abs(float(image[0, 10, 10, 0]) - 200 / 255) < 0.02
    doc["nodes"][0]["widgets"]["image"] = "broken.png"
    with pytest.raises(RunFailed) as e:
        executor.run(doc)
    assert e.value.input == "image" and "broken.png" in e.value.message


@pytest.mark.parametrize("denoise", [1e-9, 1e-6])
def test_a_tiny_denoise_is_refused_before_anything_runs(executor, denoise):
    """steps / denoise levels are built to keep their tail; 1e-9 once meant billions of levels and a hang."""
    doc = shipped("flux-dev.json", **{"scheduler.denoise": denoise})
    with pytest.raises(WorkflowError) as e:
        executor.run(doc)
    found = [p for p in e.value.problems if p.node == "scheduler"]
    assert found and found[0].input == "denoise" and "at most 100,000" in found[0].message


def test_a_small_denoise_within_the_limit_still_schedules():
    from flux_core.sampling import MAX_SCHEDULE_LENGTH, schedule_for_denoise

    sigmas = schedule_for_denoise(4, 256, 4 / MAX_SCHEDULE_LENGTH)
    assert len(sigmas) == 5 and sigmas[0] < 0.01
    with pytest.raises(ValueError, match="denoise"):
        schedule_for_denoise(4, 256, 1e-9)
