"""The LoRA nodes as a user meets them, on flux-mini: a strength change re-runs only the LoRA node and what
follows (never the base model's loader), the cached base model is never altered, workflows with different
LoRAs on one base do not interfere, LoRAStack equals chained LoadLoRA nodes, and the summary names what
was applied and what was not."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from flux_core import Executor, RunFailed
from flux_core.loading import load_diffusion_model
from flux_core.model_folders import SHIPPED_MODELS

from . import layouts

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PROMPT = "a large red circle on a blue background, center"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A user models folder with two random LoRAs for flux-mini (kohya and diffusers layouts) and a bad one."""
    root = tmp_path_factory.mktemp("models")
    (root / "loras").mkdir()
    with torch.no_grad():
        base = load_diffusion_model(SHIPPED_MODELS / "diffusion_models" / "flux-mini.safetensors", device="cpu")
        a = layouts.random_update(base, rank=4, alpha=4.0, seed=1, layers=["img_attn.qkv", "linear1", "linear2"],
                                  std=0.05)
        b = layouts.random_update(base, rank=4, alpha=4.0, seed=2, layers=["txt_mlp.0", "img_mlp.2"], std=0.05)
    sd_a = layouts.kohya(a)
    sd_a["lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight"] = torch.zeros(2, 64)
    sd_a["lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"] = torch.zeros(128, 2)
    sd_a["lora_unet_double_blocks_40_img_attn_qkv.lora_down.weight"] = torch.zeros(2, 128)  # no block 40
    sd_a["lora_unet_double_blocks_40_img_attn_qkv.lora_up.weight"] = torch.zeros(384, 2)
    layouts.save(sd_a, root / "loras" / "a.safetensors")
    layouts.save(layouts.diffusers_peft(b, 128), root / "loras" / "b.safetensors")
    layouts.save({"lora_unet_down_blocks_0_proj_in.lora_down.weight": torch.zeros(2, 8)},
                 root / "loras" / "sdxl.safetensors")
    return root


def with_loras(*loras, stack=False, model_only=False):
    """flux-mini.json with LoadLoRA nodes (or one LoRAStack) between the loaders and their users."""
    doc = json.loads((WORKFLOWS / "flux-mini.json").read_text())
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "save"]
    doc["links"] = [l for l in doc["links"] if l["to"] != "save"]
    model, text = ("model", "model"), ("text_encoders", "text_encoder")
    users = {"model": [], "text": []}
    for link in doc["links"]:
        if (link["from"], link["output"]) == model:
            users["model"].append(link)
        elif (link["from"], link["output"]) == text:
            users["text"].append(link)
    nodes = []
    if stack:
        widgets = {}
        for i, (name, sm, sc) in enumerate(loras, 1):
            widgets.update({f"lora_{i}": name, f"strength_model_{i}": sm, f"strength_clip_{i}": sc})
        nodes.append(("stack", "LoRAStack", widgets))
    else:
        nodes += [(f"lora{i}", "LoadLoRA", {"lora_name": n, "strength_model": sm, "strength_clip": sc})
                  for i, (n, sm, sc) in enumerate(loras)]
    for nid, ntype, widgets in nodes:
        doc["nodes"].append({"id": nid, "type": ntype, "version": 1, "widgets": widgets, "ui": {"pos": [0, 0]}})
        doc["links"].append({"from": model[0], "output": model[1], "to": nid, "input": "model"})
        model = (nid, "model")
        if not model_only:
            doc["links"].append({"from": text[0], "output": text[1], "to": nid, "input": "text_encoders"})
            text = (nid, "text_encoders")
    for link in users["model"]:
        link["from"], link["output"] = model
    for link in users["text"]:
        link["from"], link["output"] = text
    return doc


def picture(result):
    return result.outputs["decode"]["image"][0].numpy()


@pytest.fixture
def executor(models, tmp_path):
    return Executor(models_dir=models, output_dir=tmp_path / "out")


def run(executor, doc, seed=0):
    return executor.run(doc, overrides={"prompt.text": PROMPT, "noise.seed": seed}, outputs=["decode"])


def test_strength_changes_rerun_only_the_lora_and_what_follows(executor):
    base = run(executor, with_loras())
    first = run(executor, with_loras(("a.safetensors", 1.0, 1.0)))
    assert "lora0" in first.executed and "model" not in first.executed and "text_encoders" not in first.executed
    assert np.abs(picture(first) - picture(base)).max() > 0.02  # the LoRA changes the picture
    second = run(executor, with_loras(("a.safetensors", 0.5, 1.0)))
    assert sorted(second.executed) == ["decode", "lora0", "prompt", "sampler", "scheduler"]  # dependants only
    zero = run(executor, with_loras(("a.safetensors", 0.0, 0.0)))
    np.testing.assert_array_equal(picture(zero), picture(base))  # strength 0 is the base model exactly
    again = run(executor, with_loras())
    assert again.executed == [] and np.array_equal(picture(again), picture(base))
    fresh = Executor(models_dir=executor.env.models_dir, output_dir=executor.env.output_dir)
    np.testing.assert_array_equal(picture(run(fresh, with_loras())), picture(base))  # the cached base is unaltered


def test_two_workflows_with_different_loras_on_one_base_do_not_interfere(executor, models, tmp_path):
    only_a = run(executor, with_loras(("a.safetensors", 1.0, 1.0)))
    only_b = run(executor, with_loras(("b.safetensors", 1.0, 1.0)))
    assert "model" not in only_b.executed
    alone = Executor(models_dir=models, output_dir=tmp_path / "o2")
    np.testing.assert_array_equal(picture(only_b), picture(run(alone, with_loras(("b.safetensors", 1.0, 1.0)))))
    np.testing.assert_array_equal(picture(only_a), picture(run(alone, with_loras(("a.safetensors", 1.0, 1.0)))))
    assert not np.array_equal(picture(only_a), picture(only_b))


def test_stack_equals_chained_loaders(executor):
    chained = run(executor, with_loras(("a.safetensors", 0.8, 1.0), ("b.safetensors", -0.6, 1.0)))
    stacked = run(executor, with_loras(("a.safetensors", 0.8, 1.0), ("b.safetensors", -0.6, 1.0), stack=True))
    np.testing.assert_allclose(picture(stacked), picture(chained), atol=1e-5)


def test_summary_lists_what_was_applied_and_what_was_not(executor):
    result = executor.run(with_loras(("a.safetensors", 1.0, 1.0)), outputs=["lora0"])
    summary = result.outputs["lora0"]["summary"]
    assert summary == result.ui["lora0"]["text"]
    assert "kohya/sd-scripts" in summary and "transformer: 13 layers patched" in summary
    assert "lora_unet_double_blocks_40_img_attn_qkv.lora_down.weight: no such layer" in summary
    # the CLIP part is applied when the text encoders are connected: its keys are not in the unmatched list
    assert "lora_te1_" not in summary and "CLIP-L: 1 layers patched" in summary


def test_a_lora_for_another_model_fails_naming_the_node_and_file(executor):
    with pytest.raises(RunFailed) as e:
        executor.run(with_loras(("sdxl.safetensors", 1.0, 1.0)), outputs=["decode"])
    assert (e.value.node_id, e.value.input) == ("lora0", "lora_name")
    assert "sdxl.safetensors" in e.value.message and "lora_unet_down_blocks_0_proj_in" in e.value.message


def test_model_only_lora_reports_its_text_encoder_keys_as_not_applied(executor):
    """ComfyUI's LoraLoaderModelOnly: no text encoders connected."""
    result = executor.run(with_loras(("a.safetensors", 1.0, 1.0), model_only=True), outputs=["decode", "lora0"],
                          overrides={"prompt.text": PROMPT})
    summary = result.outputs["lora0"]["summary"]
    assert "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight: no CLIP-L given to apply it to" in summary
    assert result.outputs["lora0"]["text_encoders"] is None
