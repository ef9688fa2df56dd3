"""Tokenizer lookup order for single-file text encoders: own folder, shared folder, Hugging Face cache."""
import shutil
from pathlib import Path

from flux_core.loading.tokenizers import find_tokenizer
from loading_fixtures import SHARED_TOKENIZERS


def fake_hub_cache(repo_id: str, source: Path) -> Path:
    """Lay a tokenizer folder out as the Hugging Face cache stores a downloaded snapshot (conftest's empty cache)."""
    from flux_core.loading.tokenizers import hub_cache_dir

    root = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    revision = "0" * 40
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(revision)
    shutil.copytree(source, root / "snapshots" / revision)
    return root


def test_hugging_face_cache_is_the_last_resort(tmp_path):
    root = fake_hub_cache("openai/clip-vit-large-patch14", SHARED_TOKENIZERS / "clip_l")
    try:
        tokenizer = find_tokenizer("clip", tmp_path / "clip_l.safetensors", tmp_path / "empty-models")
    finally:
        shutil.rmtree(root)
    ids = tokenizer(["a red circle"])["input_ids"][0]
    assert ids[0] == 49406 and ids[-1] == 49407 and len(ids) == 5


def test_own_folder_then_shared_folder(tmp_path, models_dir):
    shutil.copytree(SHARED_TOKENIZERS / "clip_l", models_dir / "tokenizers" / "my-clip")
    (models_dir / "tokenizers" / "my-clip" / "tokenizer_config.json").write_text(
        (models_dir / "tokenizers" / "my-clip" / "tokenizer_config.json").read_text().replace('"model_max_length": 8192', '"model_max_length": 99')
    )
    own = find_tokenizer("clip", models_dir / "my-clip.safetensors", models_dir)
    shared = find_tokenizer("clip", models_dir / "other.safetensors", models_dir)
    assert own.model_max_length == 99 and shared.model_max_length == 8192
    t5 = find_tokenizer("t5", models_dir / "t5xxl_fp16.safetensors", models_dir)
    assert t5(["a red circle"])["input_ids"][0][-1] == 1  # </s>


def test_folder_without_vocabulary_is_not_a_tokenizer(tmp_path, models_dir):
    """transformers 5 would silently build an empty tokenizer from such a folder; we refuse it."""
    import pytest

    from flux_core.loading import ModelLoadError
    from flux_core.loading.tokenizers import load_tokenizer_folder

    broken = models_dir / "tokenizers" / "clip_l"
    (broken / "merges.txt").unlink()
    with pytest.raises(ModelLoadError, match=r"no CLIP tokenizer found .*clip_l.*vocab.json and merges.txt"):
        find_tokenizer("clip", tmp_path / "clip.safetensors", models_dir)
    with pytest.raises(ModelLoadError, match=r"clip_l: not a CLIP tokenizer folder"):
        load_tokenizer_folder(broken, "clip")


def test_tokenizer_is_built_once_per_folder_and_again_when_a_file_changes(models_dir):
    import os

    from flux_core.loading.tokenizers import load_tokenizer_folder

    folder = models_dir / "tokenizers" / "clip_l"
    first = load_tokenizer_folder(folder, "clip")
    assert load_tokenizer_folder(folder, "clip") is first  # unchanged folder: no second build
    config = folder / "tokenizer_config.json"
    config.write_text(config.read_text().replace('"model_max_length": 8192', '"model_max_length": 99'))
    os.utime(config, ns=(os.stat(config).st_atime_ns, os.stat(config).st_mtime_ns + 10**9))
    changed = load_tokenizer_folder(folder, "clip")
    assert changed is not first and changed.model_max_length == 99 and first.model_max_length == 8192
    assert load_tokenizer_folder(folder, "clip") is changed
