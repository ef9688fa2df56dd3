"""Tokenizers for a plain ComfyUI models folder (no tokenizers/): found in the ComfyUI checkout the folder
belongs to, or in the Hugging Face hub cache (offline), with the same token ids as fluxwire's own folders.

The layouts are built in temp folders from the real tokenizer files (ComfyUI ships byte-identical copies
in comfy/sd1_tokenizer and comfy/text_encoders/t5_tokenizer)."""
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from flux_core.loading import ModelLoadError
from flux_core.loading.tokenizers import find_tokenizer
from loading_fixtures import SHARED_TOKENIZERS, clip_file_dict, save, t5_file_dict, tiny_clip, tiny_t5

PROMPTS = ["a red circle on a blue square", "Photo of a cat, (sharp:1.2), 35mm — bokeh!", "x" * 300]
SOURCES = {"t5": "t5xxl", "clip": "clip_l"}


@pytest.fixture(autouse=True)
def _need_tokenizers():
    if not SHARED_TOKENIZERS.is_dir():
        pytest.skip("real tokenizers not available")


def reference_ids(kind: str) -> list[list[int]]:
    tokenizer = AutoTokenizer.from_pretrained(str(SHARED_TOKENIZERS / SOURCES[kind]))
    return tokenizer(PROMPTS)["input_ids"]


def comfyui_checkout(root: Path) -> Path:
    """A ComfyUI checkout as cloned: models/ without tokenizers/, the tokenizers in the source tree."""
    shutil.copytree(SHARED_TOKENIZERS / "clip_l", root / "comfy" / "sd1_tokenizer")
    shutil.copytree(SHARED_TOKENIZERS / "t5xxl", root / "comfy" / "text_encoders" / "t5_tokenizer")
    for kind in ("text_encoders", "diffusion_models", "vae", "checkpoints"):
        (root / "models" / kind).mkdir(parents=True)
    return root / "models"


def hub_snapshot(cache: Path, repo: str, folders: dict[str, Path]) -> Path:
    """A repo as huggingface_hub caches it: refs/main -> snapshots/<rev>/ with files as symlinks to blobs."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    revision = "1" * 40
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(revision)
    for sub, source in folders.items():
        target = repo_dir / "snapshots" / revision / sub
        target.mkdir(parents=True)
        for f in source.iterdir():
            blob = repo_dir / "blobs" / f"{sub.replace('/', '_')}{f.name}"
            blob.parent.mkdir(exist_ok=True)
            shutil.copy(f, blob)
            (target / f.name).symlink_to(blob)
    return repo_dir / "snapshots" / revision


@pytest.mark.parametrize("kind", ["t5", "clip"])
def test_comfyui_checkout_tokenizers_give_the_same_ids(tmp_path, kind):
    models = comfyui_checkout(tmp_path / "ComfyUI")
    weights = models / "text_encoders" / ("t5xxl_fp16.safetensors" if kind == "t5" else "clip_l.safetensors")
    tokenizer = find_tokenizer(kind, weights, models)
    expected = tmp_path / "ComfyUI" / ("comfy/text_encoders/t5_tokenizer" if kind == "t5" else "comfy/sd1_tokenizer")
    assert Path(tokenizer.name_or_path) == expected
    assert tokenizer(PROMPTS)["input_ids"] == reference_ids(kind)


def test_models_folder_tokenizers_come_before_comfyuis(tmp_path):
    models = comfyui_checkout(tmp_path / "ComfyUI")
    own = models / "tokenizers" / "clip_l"
    shutil.copytree(SHARED_TOKENIZERS / "clip_l", own)
    config = own / "tokenizer_config.json"
    config.write_text(config.read_text().replace('"model_max_length": 8192', '"model_max_length": 99'))
    assert find_tokenizer("clip", models / "text_encoders" / "clip_l.safetensors", models).model_max_length == 99


def test_weights_from_another_comfyui_checkout(tmp_path):
    """Files found through extra_model_paths in another checkout: that checkout's tokenizers are used."""
    other = comfyui_checkout(tmp_path / "OtherComfy")
    fluxwire_models = tmp_path / "fluxwire-models"
    fluxwire_models.mkdir()
    tokenizer = find_tokenizer("t5", other / "text_encoders" / "sub" / "t5.safetensors", fluxwire_models)
    assert Path(tokenizer.name_or_path) == tmp_path / "OtherComfy" / "comfy" / "text_encoders" / "t5_tokenizer"


@pytest.mark.parametrize("repo", ["black-forest-labs/FLUX.1-dev", "black-forest-labs/FLUX.1-schnell"])
def test_hub_cache_flux_repo_tokenizer_folders(tmp_path, monkeypatch, repo):
    """HF_HOME/hub holding only a FLUX.1 repo: tokenizer_2/ is T5, tokenizer/ is CLIP-L."""
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    snap = hub_snapshot(tmp_path / "hf" / "hub", repo,
                        {"tokenizer": SHARED_TOKENIZERS / "clip_l", "tokenizer_2": SHARED_TOKENIZERS / "t5xxl"})
    models = tmp_path / "ComfyUI" / "models"
    models.mkdir(parents=True)
    for kind, sub in (("t5", "tokenizer_2"), ("clip", "tokenizer")):
        tokenizer = find_tokenizer(kind, models / "text_encoders" / "x.safetensors", models)
        assert Path(tokenizer.name_or_path) == snap / sub
        assert tokenizer(PROMPTS)["input_ids"] == reference_ids(kind)


def test_hub_cache_t5_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    snap = hub_snapshot(tmp_path / "cache", "google/t5-v1_1-xxl", {"": SHARED_TOKENIZERS / "t5xxl"})
    tokenizer = find_tokenizer("t5", None, tmp_path / "models")
    assert Path(tokenizer.name_or_path) == snap
    assert tokenizer(PROMPTS)["input_ids"] == reference_ids("t5")


def test_a_miss_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    models = tmp_path / "ComfyUI" / "models"
    (models / "text_encoders").mkdir(parents=True)
    with pytest.raises(ModelLoadError) as caught:
        find_tokenizer("clip", models / "text_encoders" / "clip_l.safetensors", models)
    message = str(caught.value)
    for place in (models / "tokenizers" / "clip_l", tmp_path / "ComfyUI" / "comfy" / "sd1_tokenizer",
                  tmp_path / "cache" / "models--openai--clip-vit-large-patch14",
                  tmp_path / "cache" / "models--black-forest-labs--FLUX.1-dev",
                  tmp_path / "cache" / "models--black-forest-labs--FLUX.1-schnell"):
        assert str(place) in message
    assert "vocab.json and merges.txt" in message


def test_text_encoders_load_from_a_plain_comfyui_models_folder(tmp_path):
    """The loader end to end: ComfyUI's file names, no tokenizers/ folder, prompts tokenized as ComfyUI does."""
    from flux_core.loading import load_text_encoders

    models = comfyui_checkout(tmp_path / "ComfyUI")
    save(models / "text_encoders" / "t5xxl_fp16.safetensors", t5_file_dict(tiny_t5()))
    save(models / "text_encoders" / "clip_l.safetensors", clip_file_dict(tiny_clip()))
    cond = load_text_encoders(models / "text_encoders" / "t5xxl_fp16.safetensors",
                              models / "text_encoders" / "clip_l.safetensors", device="cpu", models_dir=models)
    assert cond.t5_tokenizer(PROMPTS)["input_ids"] == reference_ids("t5")
    assert cond.clip_tokenizer(PROMPTS)["input_ids"] == reference_ids("clip")
