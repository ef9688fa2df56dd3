"""Sweeps: one workflow run once per cell of a grid of overrides (seeds, prompts, any widget values).

Every cell runs on the same `Executor`, so its cache is shared: models load once, and nodes whose
settings a cell does not change (text encoding of an unchanged prompt, say) are not run again. The
sweep writes a manifest (which overrides made which files) and a labelled grid picture of the cells.

`--vary` specs: ``noise.seed=1..8`` (whole numbers, both ends included), ``noise.seed=1..100..10``
(with a step), ``sampler.steps=4,8,16`` (a list), ``prompt.text=@prompts.txt`` (one value per
non-empty line of a file).
"""
from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .graph.workflow import Problem, WorkflowError

MAX_CELLS = 100_000
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.(\d+))?$")


@dataclass
class Axis:
    key: str  # NODE_ID.INPUT
    values: list[Any]


@dataclass
class Cell:
    index: int
    overrides: dict[str, Any]
    status: str = "pending"
    images: list[str] = field(default_factory=list)  # files the cell's output nodes wrote
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    error: str | None = None


def parse_vary(spec: str, base: Path | None = None) -> Axis:
    """One `--vary KEY=VALUES` as an axis; a WorkflowError saying what is wrong otherwise."""
    key, eq, text = spec.partition("=")
    key = key.strip()
    node, dot, name = key.rpartition(".")

    def bad(message: str) -> WorkflowError:
        return WorkflowError([Problem(f"--vary {spec!r}: {message}", node=node or None, input=name or None,
                                      code="bad_sweep")])
    if not eq or not dot or not node or not name:
        raise bad("must look like NODE_ID.INPUT=VALUES (1..10, a,b,c or @file.txt)")
    if text.startswith("@"):
        path = Path(text[1:])
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            values = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise bad(f"cannot read {path}: {e}") from None
    elif (m := _RANGE.match(text.strip())):
        start, stop, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if step < 1:
            raise bad("the step of a range must be at least 1")
        values = list(range(start, stop + 1, step)) if stop >= start else list(range(start, stop - 1, -step))
    else:
        values = [v for v in text.split(",")] if text else []
    if not values:
        raise bad("gives no values")
    return Axis(key, values)


def grid(axes: list[Axis]) -> list[Cell]:
    """Every combination of the axes' values, the last axis changing fastest."""
    total = 1
    for axis in axes:
        total *= len(axis.values)
    if total > MAX_CELLS:
        raise WorkflowError([Problem(f"the sweep has {total:,} cells; at most {MAX_CELLS:,} are allowed",
                                     code="bad_sweep")])
    combos = itertools.product(*(a.values for a in axes)) if axes else [()]
    return [Cell(i, {a.key: v for a, v in zip(axes, combo)}) for i, combo in enumerate(combos)]


def run_sweep(executor, workflow: Any, axes: list[Axis], *, base_overrides: dict | None = None,
              outputs: list[str] | None = None, listener: Callable[[dict], None] | None = None,
              on_cell: Callable[[Cell], None] | None = None) -> list[Cell]:
    """Run every cell on one executor (shared cache). A failed cell is recorded and the sweep goes on;
    the whole grid is validated before the first cell runs, so a bad value fails fast."""
    from .graph.executor import RunFailed, RunInterrupted, as_workflow

    workflow = as_workflow(workflow)
    cells = grid(axes)
    for cell in cells:  # every cell's values checked up front: nothing runs if one is wrong
        executor.validate(workflow, {**(base_overrides or {}), **cell.overrides})
    for cell in cells:
        try:
            result = executor.run(workflow, {**(base_overrides or {}), **cell.overrides}, outputs=outputs,
                                  listener=listener)
            cell.status = "success"
        except RunFailed as e:
            result, cell.status, cell.error = e.result, "error", str(e)
        except RunInterrupted as e:
            cell.status, cell.error = "interrupted", str(e)
            if on_cell:
                on_cell(cell)
            break
        cell.executed, cell.cached = list(result.executed), list(result.cached)
        cell.images = [str(p) for ui in result.ui.values() for p in _paths(ui.get("images") or [])]
        if on_cell:
            on_cell(cell)
    return cells


def _paths(items) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("path") or item.get("filename")
        if isinstance(item, (str, Path)):
            out.append(str(item))
    return out


def label(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def grid_picture(cells: list[Cell], axes: list[Axis], thumb: int = 256):
    """The cells' first pictures in a labelled grid: columns = the last axis, rows = the others."""
    from PIL import Image, ImageDraw, ImageFont

    columns = len(axes[-1].values) if axes else 1
    rows = max(1, (len(cells) + columns - 1) // columns)
    pictures = []
    for cell in cells:
        picture = None
        if cell.images:
            try:
                with Image.open(cell.images[0]) as im:
                    picture = im.convert("RGB")
                    picture.thumbnail((thumb, thumb))
            except OSError:
                picture = None
        pictures.append(picture)
    cw = max([p.width for p in pictures if p] or [thumb])
    ch = max([p.height for p in pictures if p] or [thumb])
    font = ImageFont.load_default()
    left = 12 + 7 * max([len(" ".join(label(c.overrides[a.key]) for a in axes[:-1])) for c in cells] or [0]) \
        if len(axes) > 1 else 8
    top = 24
    sheet = Image.new("RGB", (left + columns * (cw + 4), top + rows * (ch + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if axes:
        for col, value in enumerate(axes[-1].values):
            draw.text((left + col * (cw + 4) + 2, 6), f"{axes[-1].key}={label(value)}", fill=(0, 0, 0), font=font)
    for i, (cell, picture) in enumerate(zip(cells, pictures)):
        row, col = divmod(i, columns)
        x, y = left + col * (cw + 4), top + row * (ch + 4)
        if picture is not None:
            sheet.paste(picture, (x, y))
        else:  # a failed cell: a grey square, so the grid keeps its shape
            draw.rectangle((x, y, x + cw - 1, y + ch - 1), fill=(200, 200, 200))
        if col == 0 and len(axes) > 1:
            draw.text((4, y + ch // 2), " ".join(label(cell.overrides[a.key]) for a in axes[:-1]), fill=(0, 0, 0),
                      font=font)
    return sheet


def write_results(cells: list[Cell], axes: list[Axis], output_dir: str | Path, prefix: str = "sweep") -> dict:
    """The grid picture and the manifest, written whole into the output folder; their paths."""
    from .files import write_numbered

    buf = io.BytesIO()
    grid_picture(cells, axes).save(buf, format="PNG")
    picture = write_numbered(output_dir, f"{prefix}-grid", ".png", buf.getvalue())
    manifest = {"axes": [{"key": a.key, "values": a.values} for a in axes], "grid": str(picture),
                "cells": [{"index": c.index, "overrides": c.overrides, "status": c.status, "images": c.images,
                           "executed": c.executed, "cached": c.cached, "error": c.error} for c in cells]}
    path = write_numbered(output_dir, f"{prefix}-manifest", ".json", json.dumps(manifest, indent=2).encode())
    return {"grid": str(picture), "manifest": str(path)}
