"""Mutation campaign: how many broken documents give something other than a structured error?

Takes the shipped workflows, mutates them N times (values replaced by hostile ones, keys deleted or
duplicated, JSON text cut or corrupted, PNG text chunks broken), then for every mutant:

- **load**: ``load_workflow`` (parse + validate). Structured = ``WorkflowError``.
- **save/reload**: a mutant that loads must save and load back to an equal document, as real JSON.
- **run**: a mutant of ``flux-mini`` that loads is run for real (tiny embedded model, 5 s cap, one
  executor so unchanged nodes come from the cache). Structured = ``WorkflowError``, ``RunInterrupted``,
  or ``RunFailed`` raised from a ``NodeError`` / the project's own error types (they name node and input);
  ``RunFailed`` from a plain Python/torch exception means validation let a bad value through.

Not part of ``make test`` (minutes, not seconds). Run from the repository root::

    OMP_WAIT_POLICY=PASSIVE nice .venv/bin/python tools/mutate_documents.py --count 10000 [--no-run]

Prints counts and the distinct causes of every non-structured outcome.
"""
from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import random
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flux_core import Executor, RunFailed, RunInterrupted, load_workflow  # noqa: E402
from flux_core.graph.node import NodeError  # noqa: E402
from flux_core.graph.registry import default_registry  # noqa: E402
from flux_core.graph.workflow import WorkflowError, dumps_document, loads_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE = "flux-mini.json"


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = [
    10 ** 5000, -(10 ** 5000), 2 ** 64, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, -1, 0, 1, 3, 17, 65536,
    float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 1e-320, 0.5, -0.0, 2.5,
    True, False, None, "", ".", "./", "..", "../x", "/etc/passwd", "a" * 200_000, "\ud800", "x\x00y",
    "auto", "default", "flux-mini.safetensors", [], [1, 2], {}, {"a": 1}, {None: 1}, {1: 2},
    lambda: _nested(50), lambda: _nested(2000), lambda: {"k": _nested(3000)},
]
TEXT_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1" * 5000, b"[" * 5000, b"{\"a\":" * 3000, b"\xff\xfe",
               b"\"\\ud800\"", b"null", b"1e999", b"-0", b"9" * 400]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, prefix + (i,))


def doc_at(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def fresh(value):
    """A new copy of a hostile value (deep ones are built by a function: deepcopy would recurse)."""
    return value() if callable(value) else copy.deepcopy(value)


def mutate_dict(rng: random.Random, doc: dict) -> dict:
    d = copy.deepcopy(doc)
    all_paths = [p for p in paths(doc) if p]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(all_paths)
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = rng.random()
            if action < 0.7:
                parent[path[-1]] = fresh(rng.choice(HOSTILE))
            elif action < 0.8:
                del parent[path[-1]]
            elif action < 0.9 and isinstance(parent, dict):
                parent[rng.choice(HOSTILE[:25] + [None, "", "extra"])] = fresh(rng.choice(HOSTILE))
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(doc_at(doc, path)))
        except (KeyError, IndexError, TypeError):
            continue
    return d


PLAUSIBLE = [0, 1, 2, 4, 16, 64, 100, 1000, 2**32, 2**63 - 1, 2**64 - 1, -2**63, 0.0, 0.25, 1.0, 3.5, 99.9, 1e-9,
             "", " ", "a", "red circle", "\n", "\x00", "☃", "a" * 99_999, "auto", "on", "off", "none", "crop", "fp8_e4m3fn",
             "default", "256", "512", "flux-mini.safetensors", "flux-mini-ae.safetensors", "sub/x.safetensors", ".",
             "./flux-mini.safetensors", True, False, None]


def mutate_widgets(rng: random.Random, doc: dict) -> dict:
    """One to three widget values replaced by plausible or hostile values (all other structure kept)."""
    d = copy.deepcopy(doc)
    slots = [(node, key) for node in d["nodes"] for key in node.get("widgets", {})]
    for _ in range(rng.choice([1, 1, 2, 3])):
        node, key = rng.choice(slots)
        node["widgets"][key] = fresh(rng.choice(PLAUSIBLE + HOSTILE if rng.random() < 0.3 else PLAUSIBLE))
    return d


def mutate_text(rng: random.Random, text: bytes) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return text[:rng.randrange(len(text))]
    if kind < 0.5:
        pos = rng.randrange(len(text))
        return text[:pos] + bytes([rng.randrange(256)]) + text[pos + 1:]
    # replace a scalar value (after a ': ') by a hostile token
    spots = [i for i in range(len(text) - 1) if text[i:i + 2] == b": "]
    pos = rng.choice(spots) + 2
    end = pos
    while end < len(text) and text[end:end + 1] not in (b",", b"\n", b"}"):
        end += 1
    return text[:pos] + rng.choice(TEXT_TOKENS) + text[end:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    import struct

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_with(text_chunk: bytes) -> bytes:
    """A 1x1 PNG whose only text chunk is the given one (already framed)."""
    ihdr = _chunk(b"IHDR", bytes([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]))
    idat = _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + text_chunk + idat + _chunk(b"IEND", b"")


def mutate_png(rng: random.Random, text: bytes) -> bytes:
    kind = rng.randrange(6)
    key = b"fluxwire.workflow\0"
    if kind == 0:  # iTXt cut short after the key
        return png_with(_chunk(b"iTXt", key[:rng.randint(1, len(key))]))
    if kind == 1:  # a compressed chunk that inflates to a lot (a zlib bomb, kept small here)
        bomb = zlib.compress(b" " * (64 << 20), 9)
        return png_with(_chunk(b"iTXt", key + b"\x01\x00\0\0" + bomb))
    if kind == 2:  # compressed text that is not zlib
        return png_with(_chunk(b"zTXt", key + b"\x00" + text[:50]))
    if kind == 3:  # the whole file truncated
        whole = png_with(_chunk(b"iTXt", key + b"\x00\x00\0\0" + text))
        return whole[:rng.randrange(8, len(whole))]
    if kind == 4:  # a declared length past the end of the file
        return png_with(b"\xff\xff\xff\xf0iTXt" + key)
    return png_with(_chunk(b"iTXt", key + b"\x00\x00\0\0" + mutate_text(rng, text)))


def classify_run_failure(e: RunFailed) -> str | None:
    """None when the failure is a structured one, else a short cause."""
    cause = e.__cause__
    if cause is None or isinstance(cause, NodeError):
        return None
    module = type(cause).__module__
    if module.startswith("flux_core") or module.startswith("nodes"):
        return None  # the project's own exception types (e.g. ModelLoadError)
    return f"{type(cause).__name__}: {str(cause)[:100]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-run", action="store_true", help="only load and save, never run")
    ap.add_argument("--widgets-only", action="store_true",
                    help="mutate only widget values of flux-mini (so many mutants load and run)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    registry = default_registry()
    shipped = {p.name: p.read_bytes() for p in sorted((ROOT / "workflows").glob("*.json"))}
    tmp = Path(tempfile.mkdtemp(prefix="fluxwire-mutants-"))
    executor = Executor(registry, output_dir=tmp / "out")
    counts = collections.Counter()
    causes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    start = time.time()

    for i in range(args.count):
        if i and i % 500 == 0:
            print(f"... {i} documents, {time.time() - start:.0f} s", file=sys.stderr)
        name = RUNNABLE if args.widgets_only else rng.choice(list(shipped))
        base = shipped[name]
        form = 0.0 if args.widgets_only else rng.random()
        if args.widgets_only:
            source = mutate_widgets(rng, json.loads(base))
            form_name = "widgets"
        elif form < 0.6:
            source: object = mutate_dict(rng, json.loads(base))
            form_name = "dict"
        elif form < 0.85:
            source = mutate_text(rng, base)
            form_name = "text"
        else:
            path = tmp / f"mutant{i}.png"
            path.write_bytes(mutate_png(rng, base))
            source = str(path)
            form_name = "png"
        counts["documents"] += 1
        counts[f"form {form_name}"] += 1
        try:
            workflow = load_workflow(source, registry=registry)
        except WorkflowError:
            counts["load: structured error"] += 1
            continue
        except BaseException as e:  # noqa: BLE001 - this is what we are counting
            counts["load: NON-STRUCTURED"] += 1
            causes["load"][f"{type(e).__name__}: {str(e)[:100]}"] += 1
            continue
        counts["loaded"] += 1
        try:
            text = dumps_document(workflow)
            json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"bare {c}")))
            again = loads_document(text.encode("utf-8"))
            if again.to_dict() != workflow.to_dict():
                raise AssertionError("reloaded document differs")
        except BaseException as e:  # noqa: BLE001
            counts["save/reload: FAILED"] += 1
            causes["save/reload"][f"{type(e).__name__}: {str(e)[:100]}"] += 1
        if args.no_run or (name != RUNNABLE and form_name != "png"):
            continue
        counts["run attempted"] += 1
        timer = threading.Timer(5.0, executor.interrupt)
        timer.start()
        try:
            executor.run(workflow)
            counts["run: success"] += 1
        except (WorkflowError, RunInterrupted):
            counts["run: structured error"] += 1
        except RunFailed as e:
            cause = classify_run_failure(e)
            if cause is None:
                counts["run: structured error"] += 1
            else:
                counts["run: NON-STRUCTURED"] += 1
                causes["run"][f"{e.node_type}: {cause}"] += 1
        except BaseException as e:  # noqa: BLE001
            counts["run: NON-STRUCTURED"] += 1
            causes["run"][f"{type(e).__name__}: {str(e)[:100]}"] += 1
        finally:
            timer.cancel()

    print(json.dumps(dict(sorted(counts.items())), indent=2))
    for phase, counter in causes.items():
        print(f"\n{phase}: {sum(counter.values())} non-structured, {len(counter)} distinct causes")
        for cause, n in counter.most_common():
            print(f"  {n:5d}  {cause}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
