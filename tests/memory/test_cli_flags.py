"""--vram-budget / --ram-budget on `fluxwire run`: checked, applied, reported with the cache's budget."""
import subprocess
import sys
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def fluxwire(*args, cwd):
    return subprocess.run([sys.executable, "-m", "flux_core.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_budget_flags_are_checked_and_reported(tmp_path):
    bad = fluxwire("run", str(WORKFLOWS / "flux-mini.json"), "--vram-budget", "lots", cwd=tmp_path)
    assert bad.returncode == 2 and "--vram-budget" in bad.stderr and "not a size" in bad.stderr
    ok = fluxwire("run", str(WORKFLOWS / "flux-mini.json"), "--ram-budget", "1GB", "--set", "scheduler.steps=1",
                  "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    line = next(x for x in ok.stdout.splitlines() if x.startswith("memory:"))
    assert "RAM budget 1.00 GB" in line and "result cache budget" in line
