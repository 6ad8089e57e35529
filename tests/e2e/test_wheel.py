"""The wheel uv builds, installed into a fresh virtualenv outside the checkout (as a
user would `pip install` it), runs `causeway demo` with the seeds it bundles."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def uv_binary() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is needed to build the wheel (run the tests with `uv run pytest`)"
    return found


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


def test_the_built_wheel_runs_the_demo_from_a_fresh_venv(tmp_path: Path) -> None:
    uv = uv_binary()
    run(uv, "build", "--wheel", "--out-dir", tmp_path / "dist", cwd=ROOT)
    (wheel,) = (tmp_path / "dist").glob("causeway-*.whl")
    # Exactly the locked versions of what the wheel needs (uv takes them from its cache).
    pins = tmp_path / "requirements.txt"
    run(
        uv,
        "export",
        "--frozen",
        "--no-dev",
        "--extra",
        "sandbox",
        "--no-emit-project",
        "--no-hashes",
        "--output-file",
        pins,
        cwd=ROOT,
    )
    venv = tmp_path / "venv"
    run(uv, "venv", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--python", python, "-r", pins, cwd=tmp_path)
    run(uv, "pip", "install", "--python", python, "--no-deps", wheel, cwd=tmp_path)

    demo = run(venv / "bin" / "causeway", "demo", "--timeout", "60", cwd=tmp_path)
    assert "done: every connection reached its end state" in demo.stdout
    assert str(venv) in demo.stdout  # the seeds it applied came from inside the wheel
