"""The manager's plan for the real FLUX.1 dev transformer (built on the meta device) on common cards."""
from pathlib import Path

from flux_core.memory.budget import GB
from flux_core.memory.planning import markdown_table, planning_rows

DOCS = Path(__file__).resolve().parents[2] / "docs" / "memory.md"


def test_every_card_gets_a_plan_that_fits_and_the_docs_show_it():
    rows = planning_rows()
    for r in rows:
        assert r["peak_bytes"] <= r["budget"], r
        if r["policy"] == "resident":
            assert r["moved_per_step"] == 0 and r["resident_bytes"] == r["model_bytes"]
        else:
            assert r["moved_per_step"] + r["resident_bytes"] == r["model_bytes"]
    by = {(r["format"], r["budget"] // GB): r for r in rows}
    assert 23.5e9 < by["bf16", 80]["model_bytes"] < 24e9  # 23.8 GB, as the real file
    assert by["bf16", 24]["policy"] == "resident" and by["bf16", 16]["policy"] == "partial"
    assert by["fp8", 12]["policy"] == "resident"  # a 12 GB card holds FLUX.1 dev fp8 with 1024² activations
    assert by["GGUF Q4_K", 8]["policy"] == "resident"
    # less room never keeps more on the device
    for fmt in ("bf16", "fp8", "GGUF Q4_K"):
        resident = [by[fmt, gb]["resident_bytes"] for gb in (6, 8, 12, 16, 24, 80)]
        assert resident == sorted(resident)
    assert markdown_table(rows) in DOCS.read_text()
