"""Document limits, hostile values, broken PNG text chunks, model-file names and settings.

Each test feeds one thing a careless user or an attacker could send and checks that the answer is a
WorkflowError (or SettingError) naming what is wrong, where, and which limit applies.
"""
import json
import struct
import tracemalloc
import zlib

import pytest

from flux_core import load_workflow
from flux_core.graph import limits
from flux_core.graph.cache import ResultCache, SettingError, default_budget, parse_byte_size
from flux_core.graph.context import Environment
from flux_core.graph.node import ModelFile
from flux_core.pnginfo import WORKFLOW_KEY, PNGTextError, text_chunks
from flux_core.graph.workflow import (Link, Workflow, WorkflowError, dumps_document, loads_document, parse_document,
                                read_document)

from .conftest import doc


def good():
    return doc([("x", "Number", {"value": 2}), ("add", "Add", {}), ("out", "Sink", {})],
               [("x", "value", "add", "a"), ("add", "sum", "out", "value")])


def problems_of(source, registry=None):
    with pytest.raises(WorkflowError) as e:
        if registry is not None:
            load_workflow(source, registry=registry)
        elif isinstance(source, (str, bytes)):
            loads_document(source)
        else:
            parse_document(source)
    return e.value.problems


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


# ------------------------------------------------------------------------------- values and limits

@pytest.mark.parametrize("value, words", [
    (10 ** 5000, "about 5,000 digits"), (-(2 ** 64), "whole numbers are limited"), (float("nan"), "finite"),
    (float("inf"), "finite"), ("a" * (limits.MAX_STRING_CHARS + 1), "characters long"),
    ("\ud800", "surrogate"), ((1, 2), "tuple"), (object(), "object"),
], ids=["5000-digit", "-2**64", "nan", "inf", "long-text", "surrogate", "tuple", "object"])
def test_a_hostile_widget_value_names_node_input_and_limit(value, words):
    d = good()
    d["nodes"][0]["widgets"]["value"] = value
    [p] = problems_of(d)
    assert (p.node, p.input, p.code) == ("x", "value", "limit")
    assert words in p.message and "nodes[0].widgets.value" in p.message


def test_keys_that_are_not_text_are_refused_where_they_are():
    d = good()
    d["nodes"][1]["properties"] = {None: 1, 7: 2, "ok": 3}
    d["extra"] = {(1, 2): 3}
    ps = problems_of(d)
    assert [(p.node, p.code) for p in ps].count(("add", "limit")) == 2
    assert any(p.node is None and "extra" in p.message for p in ps)


def test_deeply_nested_free_data_is_refused_without_recursing():
    for where in ("properties", "ui"):
        d = good()
        d["nodes"][2][where] = {"deep": nested(5000)}  # deeper than the interpreter's recursion limit
        [p] = problems_of(d)
        assert p.node == "out" and f"limited to {limits.MAX_DEPTH} levels" in p.message
    d = good()
    d["extra"] = {"deep": nested(limits.MAX_DEPTH - 3)}  # document 1, extra 2, "deep" 3, innermost value
    assert parse_document(d).extra == d["extra"]


def test_json_text_refuses_nan_infinity_huge_numbers_and_deep_nesting_before_converting():
    text = json.dumps(good())
    for token, words in (("NaN", "NaN is not a JSON value"), ("-Infinity", "-Infinity is not a JSON value"),
                         ("1e999", "too large to be a finite number"), ("7" * 5000, "5,000 digits")):
        [p] = problems_of(text.replace('"value": 2', f'"value": {token}'))
        assert words in p.message and p.code == "limit"
    [p] = problems_of('{"extra": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested too deeply" in p.message and str(limits.MAX_DEPTH) in p.message
    [p] = problems_of('{"extra": ' + "[" * 40 + "]" * 40 + "}")
    assert f"limited to {limits.MAX_DEPTH} levels" in p.message


def test_size_limits_are_checked_first_and_stated():
    many = {"format": "fluxwire.workflow", "version": 1, "bogus": 1,
            "nodes": [{"id": f"n{i}", "type": "Number"} for i in range(limits.MAX_NODES + 1)], "links": []}
    [p] = problems_of(many)  # only the size is reported: nothing else was looked at
    assert p.code == "too_large" and f"{limits.MAX_NODES:,}" in p.message
    big = b'{"extra": {"t": "' + b"x" * limits.MAX_DOCUMENT_BYTES + b'"}}'
    [p] = problems_of(big)
    assert p.code == "too_large" and f"{limits.MAX_DOCUMENT_BYTES:,}" in p.message


def test_describe_states_every_limit():
    text = limits.describe()
    for number in (limits.MAX_NODES, limits.MAX_LINKS, limits.MAX_STRING_CHARS, limits.MAX_INT):
        assert f"{number:,}" in text
    assert str(limits.MAX_DEPTH) in text


def test_widget_checks_refuse_out_of_limit_values_given_as_overrides(registry):
    from flux_core import Executor

    ex = Executor(registry)
    for value, words in ((10 ** 5000, "digits"), ("9" * 5000, "5,000 characters"), (float("nan"), "finite"),
                         (10 ** 400, "too large")):
        with pytest.raises(WorkflowError) as e:
            ex.validate(doc([("v", "IntValue" if "digits" in words or "characters" in words else "FloatValue", {}),
                             ("show", "ShowValue", {})], [("v", "value", "show", "value")]),
                        overrides={"v.value": value})
        [p] = e.value.problems
        assert (p.node, p.input) == ("v", "value") and words in p.message


# ------------------------------------------------------------------------------- save and reload

def test_what_loads_saves_as_strict_json_and_reloads_equal():
    d = good()
    d["nodes"][0]["properties"] = {"nested": nested(limits.MAX_DEPTH - 5), "big": -(2 ** 64 - 1), "f": 1e308,
                                   "tiny": 5e-324, "neg0": -0.0, "text": "é\u2028\x00"}
    wf = parse_document(d)
    text = dumps_document(wf)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in saved JSON"))
    assert loads_document(text.encode("utf-8")).to_dict() == wf.to_dict()


# ------------------------------------------------------------------------------- PNG text chunks

def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(*chunks):
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(chunks) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b"")


KEY = WORKFLOW_KEY.encode() + b"\0"


@pytest.mark.parametrize("body, words", [
    (KEY, "too short"), (KEY + b"\x01", "too short"), (KEY + b"\x00\x00en", "too short"),
    (KEY + b"\x00\x00\0\0\xff\xfe", "not UTF-8"), (KEY + b"\x01\x00\0\0not zlib", "not valid zlib"),
    (KEY + b"\x01\x00\0\0" + zlib.compress(b"{}" * 100)[:-6], "cut short"), (WORKFLOW_KEY.encode(), "no end"),
])
def test_broken_itxt_chunks_are_structured_errors(tmp_path, body, words):
    path = tmp_path / "p.png"
    path.write_bytes(png(chunk(b"iTXt", body)))
    [p] = problems_of_path(path)
    assert p.code == "bad_png" and words in p.message


def problems_of_path(path):
    with pytest.raises(WorkflowError) as e:
        read_document(path)
    return e.value.problems


def test_a_zlib_bomb_is_refused_after_inflating_no_more_than_the_limit(tmp_path):
    size = limits.MAX_DOCUMENT_BYTES + (32 << 20)
    bomb = zlib.compress(b" " * size, 9)
    path = tmp_path / "bomb.png"
    path.write_bytes(png(chunk(b"iTXt", KEY + b"\x01\x00\0\0" + bomb)))
    tracemalloc.start()
    try:
        [p] = problems_of_path(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "inflates to more than" in p.message and f"{limits.MAX_DOCUMENT_BYTES:,}" in p.message
    assert peak < size  # never the whole inflated text in memory
    with pytest.raises(PNGTextError):  # the budget is shared by every text chunk, not per chunk
        text_chunks(png(chunk(b"zTXt", b"a\0\0" + zlib.compress(b"x" * 600)),
                        chunk(b"zTXt", b"b\0\0" + zlib.compress(b"x" * 600))), max_text_bytes=1000)


def test_a_chunk_declaring_more_bytes_than_the_file_has_is_a_structured_error(tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(png(b"\xff\xff\xff\xf0iTXt" + KEY))
    [p] = problems_of_path(path)
    assert "truncated" in p.message


# ------------------------------------------------------------------------------- model file names

@pytest.fixture
def models(tmp_path):
    (tmp_path / "vae" / "sub").mkdir(parents=True)
    (tmp_path / "vae" / "ae.safetensors").write_bytes(b"x")
    (tmp_path / "vae" / "sub" / "b.safetensors").write_bytes(b"x")
    (tmp_path / "diffusers" / "pipe" / "transformer").mkdir(parents=True)
    return Environment(models_dir=tmp_path)


@pytest.mark.parametrize("name", [".", "./", "", "./ae.safetensors", "sub/./b.safetensors", "sub", "sub/", "..",
                                  "a\0b"])
def test_model_file_names_that_are_not_files_are_refused(models, name):
    with pytest.raises(ValueError) as e:
        ModelFile("vae_name", "vae").coerce(name, models)
    assert "not" in str(e.value)


def test_model_file_names_that_are_files_or_pipelines_pass(models):
    assert ModelFile("vae_name", "vae").coerce("sub/b.safetensors", models) == "sub/b.safetensors"
    assert ModelFile("folder_name", "diffusers").coerce("pipe", models) == "pipe"
    with pytest.raises(ValueError):
        ModelFile("folder_name", "diffusers").coerce(".", models)


# ------------------------------------------------------------------------------- settings

@pytest.mark.parametrize("text, expected", [("8589934592", 8589934592), ("1e9", 10 ** 9), ("8GB", 8 * 10 ** 9),
                                            ("512MiB", 512 << 20), (" 2 gib ", 2 << 30), ("0", 0), ("1_000", 1000),
                                            ("1.5k", 1500)])
def test_byte_sizes_accept_plain_scientific_and_unit_forms(text, expected):
    assert parse_byte_size(text, "X") == expected


@pytest.mark.parametrize("text", ["-5", "abc", "1e999", "1e99999999999", "0.5", "8 parsecs", "", "nan", "inf"])
def test_bad_cache_setting_is_one_sentence_naming_it(monkeypatch, text):
    monkeypatch.setenv("FLUXWIRE_CACHE_BYTES", text)
    if not text.strip():
        assert default_budget() > 0  # empty means unset
        return
    with pytest.raises(SettingError) as e:
        default_budget()
    message = str(e.value)
    assert message.startswith("FLUXWIRE_CACHE_BYTES is ") and "8GB" in message and "\n" not in message
    with pytest.raises(SettingError):
        ResultCache(-1)


# ------------------------------------------------------------------------------- linear work

class CountingList(list):
    """A list that counts the items handed out by iteration (the work of scanning it)."""

    visited = 0

    def __iter__(self):
        for item in super().__iter__():
            CountingList.visited += 1
            yield item


def test_walking_every_node_upstream_scans_the_links_once():
    n = 2000
    links = CountingList(Link(f"n{i}", "value", f"n{i + 1}", "a") for i in range(n - 1))
    wf = Workflow(links=links)
    CountingList.visited = 0
    for i in range(n):  # what SaveImage's summary does: links_into for every upstream node
        into = wf.links_into(f"n{i}")
        assert list(into.values()) == ([Link(f"n{i - 1}", "value", f"n{i}", "a")] if i else [])
    assert CountingList.visited == n - 1  # one scan to build the index, not one per node
    wf.links.append(Link("x", "value", "n0", "b"))  # an edit is seen
    assert set(wf.links_into("n0")) == {"b"}


def test_a_nan_put_in_after_loading_fails_the_save_and_keeps_the_file(tmp_path):
    from flux_core import save_workflow

    target = tmp_path / "w.json"
    wf = parse_document(good())
    save_workflow(wf, target)
    before = target.read_bytes()
    wf.nodes["x"].widgets["value"] = float("nan")
    with pytest.raises(ValueError):
        save_workflow(wf, target)
    assert target.read_bytes() == before
