"""The size limits of a workflow document, and the one pass that checks its values against them.

A document comes from anyone (a file, a dropped PNG, an HTTP request), so before anything looks at
its meaning it is checked to be small enough to handle and to hold only what JSON can write back:
text, finite numbers, whole numbers of bounded size, true/false, null, lists and objects with text
keys, nested to a bounded depth. What passes can be saved and read back to an equal document.
The numbers are documented in docs/workflow-format.md; change them together.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterator

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # JSON text (also the cap on inflating a PNG's text chunk)
MAX_PNG_BYTES = 512 * 1024 * 1024  # a picture read for the document it carries
MAX_NODES = 100_000
MAX_LINKS = 500_000
MAX_VALUES = 5_000_000  # every number, text, list and object in the document together
MAX_DEPTH = 32  # nesting of lists and objects, counting the document itself as 1
MAX_STRING_CHARS = 1_000_000  # any one text, including object keys
MAX_INT = 2**64 - 1  # whole numbers from -MAX_INT to MAX_INT (a 64-bit seed fits)
MAX_INT_DIGITS = len(str(MAX_INT))  # so JSON text never converts a longer digit string

SURROGATE = re.compile("[\ud800-\udfff]")


def describe() -> str:
    """The limits in one line, for error messages and docs."""
    return (f"at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB of JSON, {MAX_NODES:,} nodes, {MAX_LINKS:,} links, "
            f"nesting depth {MAX_DEPTH}, {MAX_STRING_CHARS:,} characters per text, whole numbers up to "
            f"{MAX_INT:,} in size, finite numbers only")


def path_text(path: tuple) -> str:
    """``nodes[3].widgets.seed`` style location of a value."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out or "the document"


def value_problems(data: Any, max_problems: int = 20) -> Iterator[tuple[tuple, str]]:
    """(path, sentence) for every value that breaks a limit or cannot be written back as JSON.

    Iterative (no recursion), so a deeply nested document cannot crash the check itself; stops after
    `max_problems` problems, or at once when the document holds more than MAX_VALUES values.
    """
    found = 0
    count = 0
    stack: list[tuple[Any, tuple, int]] = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            yield (), f"the document holds more than {MAX_VALUES:,} values (the limit)"
            return
        problem = None
        kind = type(value)
        if kind is str:
            if len(value) > MAX_STRING_CHARS:
                problem = f"is {len(value):,} characters long; texts are limited to {MAX_STRING_CHARS:,}"
            elif SURROGATE.search(value):
                problem = "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which cannot be saved as UTF-8"
        elif kind is bool or value is None:
            pass
        elif kind is int:
            if not -MAX_INT <= value <= MAX_INT:
                about = "about " if value.bit_length() > 10_000 else ""
                problem = (f"is a whole number with {about}{len(_digits(value)):,} digits; whole numbers are "
                           f"limited to {MAX_INT:,} in size")
        elif kind is float:
            if not math.isfinite(value):
                problem = f"is {value}, but a document holds finite numbers only (JSON has no NaN or Infinity)"
        elif kind is dict or kind is list:
            if depth > MAX_DEPTH:
                problem = f"is nested {depth} levels deep; documents are limited to {MAX_DEPTH} levels"
            elif kind is dict:
                for key, item in value.items():
                    if type(key) is not str:
                        found += 1
                        shown = f"{len(_digits(key))}-digit number" if type(key) is int else repr(key)[:40]
                        yield path, f"has a key {shown} that is not text (JSON object keys are text)"
                        if found >= max_problems:
                            return
                        continue
                    if len(key) > MAX_STRING_CHARS or SURROGATE.search(key):
                        found += 1
                        yield path, "has a key that is too long or contains an unpaired surrogate"
                        if found >= max_problems:
                            return
                        continue
                    stack.append((item, path + (key,), depth + 1))
            else:
                stack.extend((item, path + (i,), depth + 1) for i, item in enumerate(value))
        else:
            problem = f"is a {kind.__name__}, which a JSON document cannot hold"
        if problem:
            found += 1
            yield path, problem
            if found >= max_problems:
                return


def _digits(value: int) -> str:
    """Decimal digits of a possibly huge int without tripping Python's digit-count limit."""
    if value.bit_length() > 10_000:  # str() would refuse; only the count is shown, to within one digit
        return "x" * (int((value.bit_length() - 1) * 0.30103) + 1)
    return str(abs(value))


def json_int(text: str) -> int:
    """`json.loads` hook: refuse over-long digit strings before converting them (no 4300-digit error)."""
    digits = len(text) - (text[0] == "-")
    if digits > MAX_INT_DIGITS:
        raise LimitExceeded(f"a whole number with {digits:,} digits; whole numbers are limited to {MAX_INT:,} "
                            f"in size")
    return int(text)


def json_float(text: str) -> float:
    """`json.loads` hook: a number such as 1e999 is refused rather than read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise LimitExceeded(f"the number {text[:40]} is too large to be a finite number")
    return value


def json_constant(name: str) -> Any:
    """`json.loads` hook: NaN and Infinity are not JSON; Python's json would accept them."""
    raise LimitExceeded(f"{name} is not a JSON value (documents hold finite numbers only)")


class LimitExceeded(ValueError):
    """Raised from the JSON hooks; the workflow module turns it into a WorkflowError."""
