"""A ComfyUI installation's model folders: models/ as-is and extra_model_paths.yaml."""
import json
import shutil

import pytest

from flux_core import model_folders
from flux_core.interop.comfyui.model_paths import ExtraPathsError, read_extra_paths

from .conftest import fixture


@pytest.fixture
def no_extra(monkeypatch):
    monkeypatch.setattr(model_folders, "EXTRA_FOLDERS", {})


def test_yaml_entries_base_paths_and_multi_line_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("SHARED_MODELS", str(tmp_path / "shared"))
    (tmp_path / "cfg").mkdir()
    yaml_file = tmp_path / "cfg" / "extra_model_paths.yaml"
    yaml_file.write_text(
        "comfyui:\n"
        "    base_path: ../ComfyUI/\n"
        "    is_default: true\n"
        "    checkpoints: models/checkpoints/\n"
        "    clip: models/clip/\n"
        "    diffusion_models: |\n"
        "                 models/diffusion_models\n"
        "                 models/unet\n"
        "    embeddings: models/embeddings/\n"
        "a111:\n"
        "    base_path: $SHARED_MODELS\n"
        "    vae: VAE\n"
        "    loras: Lora\n"
        "empty:\n")
    found = read_extra_paths(yaml_file)
    comfy = tmp_path / "ComfyUI" / "models"
    assert found["diffusion_models"] == [comfy / "diffusion_models", comfy / "unet"]
    assert found["text_encoders"] == [comfy / "clip"]
    assert found["checkpoints"] == [comfy / "checkpoints"]
    assert found["vae"] == [tmp_path / "shared" / "VAE"] and found["loras"] == [tmp_path / "shared" / "Lora"]
    assert "embeddings" not in found


@pytest.mark.parametrize("text", ["- just\n- a list\n", "comfyui: [1, 2]\n", "a: b: c: :\n  - ]"])
def test_unusable_yaml_is_refused_with_a_sentence(tmp_path, text):
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    with pytest.raises(ExtraPathsError):
        read_extra_paths(path)


def test_cli_finds_files_through_the_yaml_and_names_the_folders_when_missing(comfy_models, tmp_path, no_extra, capsys):
    from flux_core.cli import main

    install = tmp_path / "ComfyUI"
    shutil.copytree(comfy_models, install / "models")
    (install / "models" / "vae").rename(install / "vae_elsewhere")
    (tmp_path / "extra.yaml").write_text("comfyui:\n  base_path: ComfyUI\n  unet: models/unet\n"
                                         "  diffusion_models: models/diffusion_models\n  clip: |\n"
                                         "    models/clip\n    models/text_encoders\n"
                                         "other:\n  vae: ComfyUI/vae_elsewhere\n")
    workflow = tmp_path / "api.json"
    workflow.write_text(json.dumps(fixture("api_schnell_split.json")))
    empty = tmp_path / "fluxwire_models"  # only the tokenizers, which a ComfyUI folder does not hold
    shutil.move(install / "models" / "tokenizers", empty / "tokenizers")
    args = ["--models-dir", str(empty), "--extra-model-paths", str(tmp_path / "extra.yaml")]
    assert main(["run", str(workflow), *args, "--output-dir", str(tmp_path / "out")]) == 0
    data = fixture("api_schnell_split.json")
    data["10"]["inputs"]["vae_name"] = "ae_missing.safetensors"
    workflow.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["validate", str(workflow), *args]) == 2
    err = capsys.readouterr().err
    assert "'10'" in err and "ae_missing.safetensors" in err and "vae_elsewhere" in err
