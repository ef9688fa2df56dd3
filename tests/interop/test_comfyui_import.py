"""ComfyUI documents (API, UI, PNG) open as fluxwire documents and run on a ComfyUI models folder."""
import copy
import json

import pytest
import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.graph.workflow import WorkflowError

from .conftest import fixture


def load(data, models):
    return load_workflow(data, env=Environment(models_dir=models))


def image_of(executor, workflow, node):
    result = executor.run(workflow)
    assert result.status == "success"
    return result.outputs[node]["image"]


def manual_schnell(models, prompt, seed, width, height, sigmas):
    """The same picture computed by hand: ComfyUI's noise (global seed, one CPU randn), Euler on the notes'
    sigma table, then the autoencoder."""
    from flux_core.loading import load_diffusion_model, load_text_encoders, load_vae
    from flux_core.sampling import img_ids, pack, txt_ids, unpack

    model = load_diffusion_model(models / "diffusion_models" / "flux1-schnell.safetensors").eval()
    cond = load_text_encoders(models / "text_encoders" / "t5xxl_fp16.safetensors", models / "clip" / "clip_l.safetensors",
                              models_dir=models)
    cond.tokenization, cond.t5_max_length = "comfyui", 256
    txt, vec = cond.encode([prompt], no_grad=True)
    torch.manual_seed(seed)
    x = torch.randn([1, 16, height // 8, width // 8])
    with torch.no_grad():
        for s, nxt in zip(sigmas[:-1], sigmas[1:]):
            v = model(img=pack(x), img_ids=img_ids(1, height // 8, width // 8), txt=txt,
                      txt_ids=txt_ids(1, txt.shape[1]), y=vec, timesteps=torch.tensor([s]))
            x = x + (nxt - s) * unpack(v, height, width)
        ae = load_vae(models / "vae" / "ae.safetensors").eval()
        pixels = ae.decode(x)
    return ((pixels.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)


def test_api_schnell_matches_a_hand_computed_picture(comfy_models, executor):
    workflow = load(fixture("api_schnell_split.json"), comfy_models)
    assert workflow.nodes["12"].type == "LoadDiffusionModel"
    got = image_of(executor, workflow, "8")
    want = manual_schnell(comfy_models, "a red fox in the snow", 972054013131368, 64, 48, [1.0, 0.75, 0.5, 0.25, 0.0])
    assert got.shape == (1, 48, 64, 3)
    assert torch.allclose(got, want, atol=1e-5)


def test_ui_and_api_forms_of_one_graph_give_the_same_picture(comfy_models, executor):
    ui = load(fixture("ui_dev_split.json"), comfy_models)
    api = load(fixture("api_dev_split.json"), comfy_models)
    assert torch.equal(image_of(executor, ui, "16"), image_of(executor, api, "16"))


def test_ui_reroute_primitive_bypass_mute_note(comfy_models, executor):
    data = fixture("ui_dev_split.json")
    workflow = load(data, comfy_models)
    assert "10" not in workflow.nodes and "13" not in workflow.nodes  # reroute and primitive are UI-only
    assert workflow.links_into("9")["model"].source == "4"  # through the reroute
    assert workflow.nodes["12"].widgets["seed"] == 42  # pushed in by the primitive
    # bypassed and muted nodes are kept with their mode; the engine applies it as ComfyUI does
    assert workflow.nodes["7"].mode == "bypass" and workflow.links_into("8")["conditioning"].source == "7"
    assert workflow.links_into("7")["conditioning"].source == "6"
    assert workflow.nodes["19"].mode == "mute" and workflow.nodes["18"].mode is None  # 18 only feeds the mute
    assert workflow.links_into("19")["images"].source == "18"
    note = workflow.nodes["20"]
    assert note.type == "Note" and note.widgets["text"].startswith("FLUX dev")
    # the bypassed node really is left out: un-bypassing it (guidance 30) changes the picture, and so does
    # taking the mode off the fluxwire node (what the canvas's "Bypass" toggle does)
    plain = image_of(executor, workflow, "16")
    result = executor.run(workflow)
    assert "19" not in result.outputs and "18" not in result.outputs  # muted: nothing ran, nothing saved
    un_bypassed = copy.deepcopy(data)
    un_bypassed["nodes"][[n["id"] for n in data["nodes"]].index(7)]["mode"] = 0
    switched_on = image_of(executor, load(un_bypassed, comfy_models), "16")
    assert not torch.equal(plain, switched_on)
    doc = workflow.to_dict()
    next(n for n in doc["nodes"] if n["id"] == "7").pop("mode")
    assert torch.equal(image_of(executor, load(doc, comfy_models), "16"), switched_on)


def test_modes_fluxwire_cannot_hold_are_still_applied_at_import(comfy_models, executor):
    """A muted node without a twin (or of another family) cannot become a fluxwire node: it is dropped with
    what only fed it, and a bypassed one is passed through, as before; the picture is unchanged."""
    data = fixture("ui_dev_split.json")
    base = image_of(executor, load(data, comfy_models), "16")
    nodes = {n["id"]: n for n in data["nodes"]}
    nodes[19]["type"] = "UltimateSDUpscale"  # muted, unsupported
    nodes[7]["type"] = "SomeCustomGuidance"  # bypassed, unsupported
    workflow = load(data, comfy_models)
    assert "19" not in workflow.nodes and "18" not in workflow.nodes and "7" not in workflow.nodes
    assert workflow.links_into("8")["conditioning"].source == "6"
    assert torch.equal(image_of(executor, workflow, "16"), base)


def test_ui_positions_titles_colours_groups_and_model_urls_carry_over(comfy_models):
    workflow = load(fixture("ui_dev_split.json"), comfy_models)
    prompt = workflow.nodes["5"]
    assert prompt.ui == {"pos": [380, 200], "size": [400, 200], "color": "#232", "bgcolor": "#353", "title": "Prompt"}
    assert workflow.groups == [{"title": "Loaders", "bounding": [0, 0, 360, 440], "color": "#3f789e", "font_size": 24}]
    assert workflow.nodes["1"].properties["models"][0]["folder"] == "diffusion_models"
    assert workflow.nodes["1"].properties["comfyui"] == {"class_type": "UNETLoader"}


def test_legacy_group_node_expands_to_the_same_picture(comfy_models, executor):
    grouped = load(fixture("ui_schnell_group_node.json"), comfy_models)
    assert {grouped.nodes["30:0"].type, grouped.nodes["30:1"].type} == {"TextEncode", "BasicGuider"}
    assert grouped.nodes["30:0"].widgets["text"] == "a red fox in the snow"
    assert grouped.links_into("13")["guider"].source == "30:1"
    api = load(fixture("api_schnell_split.json"), comfy_models)
    assert torch.equal(image_of(executor, grouped, "8"), image_of(executor, api, "8"))


def test_dev_checkpoint_cfg1_ignores_the_negative_and_cfg_above_1_uses_it(comfy_models, executor):
    data = fixture("api_dev_checkpoint.json")
    base = image_of(executor, load(data, comfy_models), "8")
    other_negative = copy.deepcopy(data)
    other_negative["33"]["inputs"]["text"] = "blurry, ugly"
    assert torch.equal(base, image_of(executor, load(other_negative, comfy_models), "8"))  # cfg 1: skipped
    cfg2 = copy.deepcopy(other_negative)
    cfg2["31"]["inputs"]["cfg"] = 2.0
    guided = image_of(executor, load(cfg2, comfy_models), "8")
    assert (guided - base).abs().max() > 1e-3
    # real CFG: with the positive prompt also as the negative, cfg has nothing to push against
    same = copy.deepcopy(cfg2)
    same["31"]["inputs"]["negative"] = ["35", 0]
    assert torch.allclose(image_of(executor, load(same, comfy_models), "8"), base, atol=1e-5)


def test_model_names_with_subfolders_and_windows_separators(comfy_models, executor):
    data = fixture("api_schnell_split.json")
    data["12"]["inputs"]["unet_name"] = "flux\\schnell.safetensors"  # saved on Windows, found under unet/flux/
    workflow = load(data, comfy_models)
    assert workflow.nodes["12"].widgets["model_name"] == "flux/schnell.safetensors"
    assert torch.equal(image_of(executor, workflow, "8"),
                       image_of(executor, load(fixture("api_schnell_split.json"), comfy_models), "8"))


def test_a_missing_model_names_the_node_the_comfyui_name_and_the_folders(comfy_models):
    data = fixture("api_schnell_split.json")
    data["12"]["inputs"]["unet_name"] = "flux1-krea-dev.safetensors"
    with pytest.raises(WorkflowError) as e:
        load(data, comfy_models)
    (p,) = e.value.problems
    assert p.node == "12" and "flux1-krea-dev.safetensors" in p.message
    assert "diffusion_models" in p.message and "unet" in p.message


def test_unsupported_classes_are_all_listed_at_once(comfy_models):
    data = fixture("api_schnell_split.json")
    data["40"] = {"class_type": "UltimateSDUpscale", "inputs": {"image": ["8", 0]}, "_meta": {"title": "Upscale!"}}
    data["41"] = {"class_type": "CLIPLoader", "inputs": {"clip_name": "t5xxl_fp16.safetensors", "type": "sd3"}}
    data["42"] = {"class_type": "CLIPLoader", "inputs": {"clip_name": "clip_l.safetensors", "type": "stable_diffusion",
                                                         "device": "default"}}
    data["43"] = {"class_type": "SamplerCustom", "inputs": {"noise_seed": 1}}
    data["16"]["inputs"]["sampler_name"] = "euler_smea_dy"  # a custom node pack's sampler: fluxwire has none
    with pytest.raises(WorkflowError) as e:
        load(data, comfy_models)
    by_node = {p.node: p for p in e.value.problems}
    assert set(by_node) == {"40", "41", "42", "43"}  # classes first; values are checked once classes are known
    assert "SamplerCustomAdvanced" in by_node["43"].message  # it says which fluxwire nodes do the same
    assert "UltimateSDUpscale" in by_node["40"].message and '"Upscale!"' in by_node["40"].message
    assert "no equivalent" in by_node["40"].message
    assert "Stable Diffusion 3" in by_node["41"].message
    del data["40"], data["41"], data["42"], data["43"]
    with pytest.raises(WorkflowError) as e:
        load(data, comfy_models)
    (p,) = e.value.problems
    assert p.node == "16" and "euler_smea_dy" in p.message and p.code == "unsupported_value"
    assert "dpmpp_2m" in p.message and "euler_ancestral" in p.message  # it lists what is supported


@pytest.mark.parametrize("cls, inputs, family", [
    ("EmptyFlux2LatentImage", {"width": 1024, "height": 1024, "batch_size": 1}, "FLUX.2"),
    ("CLIPLoader", {"clip_name": "mistral_3_small_flux2.safetensors", "type": "flux2"}, "FLUX.2"),
    ("DualCLIPLoader", {"clip_name1": "clip_g.safetensors", "clip_name2": "clip_l.safetensors", "type": "sdxl"},
     "Stable Diffusion XL"),
    ("WanImageToVideo", {}, "Wan"),
])
def test_other_model_families_are_refused_by_name(cls, inputs, family, comfy_models):
    data = {"1": {"class_type": cls, "inputs": inputs}}
    with pytest.raises(WorkflowError) as e:
        load(data, comfy_models)
    assert e.value.problems[0].code == "other_model_family" and family in e.value.problems[0].message


def test_a_gguf_or_tiled_twin_is_refused_until_its_node_exists(comfy_models):
    from flux_core.graph.registry import default_registry

    data = fixture("api_schnell_split.json")
    data["8"]["class_type"] = "VAEDecodeTiled"
    data["8"]["inputs"].update({"tile_size": 512, "overlap": 64, "temporal_size": 64, "temporal_overlap": 8})
    if "VAEDecodeTiled" in default_registry():
        assert load(data, comfy_models).nodes["8"].widgets == {"tile_size": 512, "overlap": 64}
    else:
        with pytest.raises(WorkflowError) as e:
            load(data, comfy_models)
        assert "not installed" in e.value.problems[0].message


def _png(path, chunks):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return path


def test_png_prefers_the_ui_workflow_and_falls_back_to_the_prompt(comfy_models, tmp_path):
    ui, api = json.dumps(fixture("ui_dev_split.json")), json.dumps(fixture("api_dev_split.json"))
    both = load(_png(tmp_path / "both.png", {"prompt": api, "workflow": ui}), comfy_models)
    assert both.nodes["20"].type == "Note"  # only the UI workflow has the note
    only_prompt = load(_png(tmp_path / "prompt.png", {"prompt": api}), comfy_models)
    assert "20" not in only_prompt.nodes and only_prompt.nodes["15"].type == "SamplerCustomAdvanced"
    broken_ui = load(_png(tmp_path / "broken.png", {"prompt": api, "workflow": "{not json"}), comfy_models)
    assert broken_ui.nodes["15"].type == "SamplerCustomAdvanced"
    with pytest.raises(WorkflowError):
        load(_png(tmp_path / "bad.png", {"workflow": "{not json"}), comfy_models)


def test_cli_runs_and_validates_comfyui_files(comfy_models, tmp_path, capsys):
    from flux_core.cli import main

    path = tmp_path / "flux_schnell_api.json"
    path.write_text(json.dumps(fixture("api_schnell_split.json")))
    assert main(["validate", str(path), "--models-dir", str(comfy_models)]) == 0
    png = _png(tmp_path / "from_comfy.png", {"prompt": path.read_text()})
    assert main(["run", str(png), "--models-dir", str(comfy_models), "--output-dir", str(tmp_path / "o")]) == 0
    assert list((tmp_path / "o").glob("ComfyUI_*.png"))
    bad = fixture("api_schnell_split.json")
    bad["99"] = {"class_type": "FaceDetailer", "inputs": {}}
    path.write_text(json.dumps(bad))
    capsys.readouterr()
    assert main(["validate", str(path), "--models-dir", str(comfy_models)]) == 2
    assert "FaceDetailer" in capsys.readouterr().err


def test_export_then_import_gives_the_same_picture(comfy_models, executor, tmp_path):
    from flux_core.cli import main
    from flux_core.interop.comfyui.export import to_api_prompt
    from flux_core.graph.registry import default_registry

    for name, out in (("ui_dev_split.json", "16"), ("api_dev_checkpoint.json", "8")):
        imported = load(fixture(name), comfy_models)
        prompt = to_api_prompt(imported, default_registry())
        assert "20" not in prompt  # the note is UI-only in ComfyUI
        assert all(isinstance(v["class_type"], str) for v in prompt.values())
        again = load(json.loads(json.dumps(prompt)), comfy_models)
        assert torch.equal(image_of(executor, imported, out), image_of(executor, again, out))
    doc = tmp_path / "doc.json"
    from flux_core import save_workflow

    save_workflow(load(fixture("api_schnell_split.json"), comfy_models), doc)
    assert main(["export", "--comfyui-api", str(doc), "-o", str(tmp_path / "api.json")]) == 0
    exported = json.loads((tmp_path / "api.json").read_text())
    assert exported["13"]["inputs"]["guider"] == ["22", 0] and exported["11"]["inputs"]["type"] == "flux"


def test_export_refuses_nodes_without_a_twin(capsys):
    from pathlib import Path

    import workflows
    from flux_core.cli import main

    shipped = Path(workflows.__file__).parent / "flux-schnell.json"
    assert main(["export", "--comfyui-api", str(shipped)]) == 2
    err = capsys.readouterr().err
    assert "Scheduler has no ComfyUI twin" in err and "Sampler has no ComfyUI twin" in err


def test_canvas_opens_comfyui_files_and_exports_api_prompts(comfy_models, tmp_path):
    import base64

    import gradio as gr

    from flux_core import Executor
    from web.canvas import NodeCanvas

    executor = Executor(models_dir=comfy_models, output_dir=tmp_path / "out", input_dir=tmp_path / "in")
    with gr.Blocks():
        canvas = NodeCanvas(executor=executor)
    ui = json.dumps(fixture("ui_dev_split.json")).encode()
    opened = canvas.read_workflow_file({"name": "flux_dev.json", "data": base64.b64encode(ui).decode()})
    assert opened["ok"] and opened["problems"] == [] and len(opened["workflow"]["nodes"]) == 18  # modes kept
    png = _png(tmp_path / "comfy.png", {"workflow": ui.decode()}).read_bytes()
    dropped = canvas.read_workflow_file({"name": "comfy.png", "data": base64.b64encode(png).decode()})
    assert dropped["ok"] and dropped["workflow"]["nodes"] == opened["workflow"]["nodes"]
    exported = canvas.export_comfyui(opened["workflow"])
    assert exported["ok"] and json.loads(exported["text"])["15"]["class_type"] == "SamplerCustomAdvanced"
    from pathlib import Path

    import workflows

    refused = canvas.export_comfyui(json.loads((Path(workflows.__file__).parent / "flux-schnell.json").read_text()))
    assert not refused["ok"] and {p["node"] for p in refused["problems"]} >= {"sampler", "scheduler"}


def test_subgraph_maps_onto_fluxwire_subgraphs_with_ids_and_promoted_widgets():
    from flux_core.interop.comfyui.convert import to_document
    from flux_core.interop.comfyui.ui import read_ui

    problems = []
    graph = read_ui(fixture("ui_schnell_subgraph.json"), problems)
    doc, more = to_document(graph, "sub.json", None, subgraphs_supported=True)
    assert problems == [] and more == []
    uuid = "3f1c2a4e-7b2d-4c1e-9a77-5d0c1e2f3a41"
    (instance,) = [n for n in doc["nodes"] if n["id"] == "30"]
    assert instance["type"] == "Subgraph" and instance["subgraph"] == {"id": uuid}
    assert instance["widgets"] == {"text": "a red fox in the snow"} and instance["ui"]["title"] == "prompt subgraph"
    definition = doc["subgraphs"][uuid]
    assert [(i["name"], i["type"], "widget" in i) for i in definition["inputs"]] == [
        ("clip", "TEXT_ENCODER", False), ("model", "MODEL", False), ("text", "STRING", True)]
    assert definition["outputs"] == [{"name": "GUIDER", "type": "GUIDER"}]
    assert {(n["id"], n["type"]) for n in definition["nodes"]} == {("1", "TextEncode"), ("2", "BasicGuider")}
    assert {"from": "@inputs", "output": "text", "to": "1", "input": "text"} in definition["links"]
    assert {"from": "2", "output": "guider", "to": "@outputs", "input": "GUIDER"} in definition["links"]
    assert {"from": "30", "output": "GUIDER", "to": "13", "input": "guider"} in doc["links"]
    assert doc["version"] == 2


def test_subgraph_runs_like_the_flat_graph_or_is_refused_clearly(comfy_models, executor):
    from flux_core.graph.workflow import VERSION

    data = fixture("ui_schnell_subgraph.json")
    if VERSION < 2:  # this fluxwire has no subgraphs yet: one clear problem, not half a workflow
        with pytest.raises(WorkflowError) as e:
            load(data, comfy_models)
        assert [p.code for p in e.value.problems] == ["unsupported_subgraph"]
        assert "Unpack Subgraph" in e.value.problems[0].message
        return
    from flux_core.interop.comfyui.export import to_api_prompt
    from flux_core.graph.registry import default_registry

    flat = load(fixture("api_schnell_split.json"), comfy_models)
    nested = load(data, comfy_models)
    assert torch.equal(image_of(executor, nested, "8"), image_of(executor, flat, "8"))
    prompt = to_api_prompt(nested, default_registry())  # exported with the subgraph expanded
    assert prompt["30/2"]["class_type"] == "BasicGuider" and prompt["13"]["inputs"]["guider"] == ["30/2", 0]
    assert torch.equal(image_of(executor, load(prompt, comfy_models), "8"), image_of(executor, flat, "8"))


def test_lora_loaders_map_to_load_lora_once_it_exists(comfy_models):
    from flux_core.graph.registry import default_registry

    data = fixture("api_dev_checkpoint.json")
    data["50"] = {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1],
                                                        "lora_name": "styles\\ink.safetensors",
                                                        "strength_model": 0.8, "strength_clip": 0.5}}
    data["51"] = {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["50", 0], "lora_name": "ink2.safetensors",
                                                                  "strength_model": 1.0}}
    data["31"]["inputs"]["model"] = ["51", 0]
    data["6"]["inputs"]["clip"] = ["50", 1]
    if "LoadLoRA" not in default_registry():
        with pytest.raises(WorkflowError) as e:
            load(data, comfy_models)
        assert {p.node for p in e.value.problems} == {"50", "51"} and "LoadLoRA" in e.value.problems[0].message
        return
    for name in ("styles/ink.safetensors", "ink2.safetensors"):
        (comfy_models / "loras" / name).parent.mkdir(parents=True, exist_ok=True)
        (comfy_models / "loras" / name).write_bytes(b"")  # validation only checks that the file is there
    workflow = load(data, comfy_models)
    lora = workflow.nodes["50"]
    assert lora.type == "LoadLoRA" and lora.widgets == {"lora_name": "styles/ink.safetensors", "strength_model": 0.8,
                                                        "strength_clip": 0.5}
    assert workflow.links_into("50")["text_encoders"].source == "4"
    assert workflow.links_into("6")["text_encoder"].output == "text_encoders"
    assert workflow.links_into("31")["model"].source == "51"
