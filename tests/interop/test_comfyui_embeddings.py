"""`embedding:NAME` in prompts of ComfyUI documents. ComfyUI (FluxTokenizer: SDTokenizer for CLIP-L, T5XXL
tokenizer) drops an embedding it does not find in models/embeddings and tokenizes the text around it piece by
piece; it splices one it finds into CLIP-L, which fluxwire cannot do, so that case is refused naming the node
and the embedding."""
import copy
import shutil

import pytest
from transformers import AutoTokenizer

from flux_core import load_workflow
from flux_core.graph.context import Environment
from flux_core.graph.executor import RunFailed
from flux_core.models.comfy_text import clip_first_chunk, embedding_names, t5_tokens

from .conftest import fixture

SHARED = "/work/shared/data/tokenizers"


@pytest.fixture(scope="module")
def tokenizers():
    try:
        return AutoTokenizer.from_pretrained(f"{SHARED}/t5xxl"), AutoTokenizer.from_pretrained(f"{SHARED}/clip_l")
    except OSError:
        pytest.skip("real tokenizers not available")


def pieces_t5(tok, *pieces):
    """ComfyUI's T5 tokens for text pieces tokenized one by one (no start token, </s>, padded to 256)."""
    ids = [t for p in pieces for t in tok(p)["input_ids"][:-1]] + [tok("")["input_ids"][0]]
    return [(t, 1.0) for t in ids] + [(0, 1.0)] * (256 - len(ids))


def test_a_missing_embedding_is_dropped_and_the_rest_tokenized_piece_by_piece(tokenizers):
    t5, clip = tokenizers
    prompt = "a red fox embedding:EasyNegative, in the snow"
    # the name goes; its trailing comma and what follows stay, tokenized on their own
    assert t5_tokens(t5, prompt) == pieces_t5(t5, "a red fox", ", in the snow")
    assert t5_tokens(t5, prompt) != t5_tokens(t5, "a red fox, in the snow")  # pieces, not the joined text
    assert t5_tokens(t5, "embedding:bad_hands") == t5_tokens(t5, "")
    first = clip_first_chunk(clip, prompt)
    expected = [clip("")["input_ids"][0]] + clip("a red fox")["input_ids"][1:-1] + \
        clip(", in the snow")["input_ids"][1:-1] + [clip("")["input_ids"][1]]
    assert first[:len(expected)] == expected
    assert t5_tokens(t5, "no embeddings (here:1.2)") == t5_tokens(t5, "no embeddings (here:1.2)")


def test_embedding_names_as_comfyui_reads_them():
    assert embedding_names("a embedding:one, (b embedding:two:1.2)\nembedding:three.pt x") == ["one", "two", "three.pt"]
    assert embedding_names("myembedding:x and embedding:") == []  # not after a space; an empty name


def test_an_embedding_comfyui_would_find_is_refused_naming_node_and_embedding(comfy_models, executor, tmp_path):
    from flux_core import Executor

    data = copy.deepcopy(fixture("api_schnell_split.json"))
    data["6"]["inputs"]["text"] = "a red fox embedding:EasyNegative in the snow"
    env = Environment(models_dir=comfy_models)
    ran = executor.run(load_workflow(data, env=env))  # not in models/embeddings: ignored, as ComfyUI does
    assert ran.status == "success"
    folder = comfy_models / "embeddings"
    folder.mkdir()
    try:
        (folder / "EasyNegative.safetensors").write_bytes(b"not read")
        fresh = Executor(models_dir=comfy_models, output_dir=tmp_path / "out2", input_dir=tmp_path / "in")
        with pytest.raises(RunFailed) as e:
            fresh.run(load_workflow(data, env=env))
    finally:
        shutil.rmtree(folder)
    assert e.value.node_id == "6" and "embedding:EasyNegative" in str(e.value) and "CLIP-L" in str(e.value)
