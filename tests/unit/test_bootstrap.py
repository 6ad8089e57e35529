"""tools/uv, which the README's two commands and CI start with: it uses an installed
uv, installs one with pip when missing, and on a Debian/Ubuntu system Python (PEP 668:
pip refuses) installs it into the checkout instead of failing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for python3 with no uv: plain `pip install` answers as PEP 668 makes pip
# answer on Debian; `pip install --target DIR` lays out DIR/bin/uv as pip would.
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$CALLS"
case "$*" in
  "-m uv --version") exit 1 ;;
  *"--target"*)
    target=$(echo "$*" | sed 's/.*--target \\([^ ]*\\).*/\\1/')
    mkdir -p "$target/bin"
    printf '#!/bin/sh\\necho "uv from the checkout: $*"\\n' > "$target/bin/uv"
    chmod +x "$target/bin/uv"
    exit 0 ;;
  "-m pip install --quiet uv")
    echo "error: externally-managed-environment" >&2
    exit 1 ;;
esac
exit 99
"""


WITH_UV = """#!/bin/sh
echo "$@" >> "$CALLS"
[ "$1 $2" = "-m uv" ] && shift 2 && echo "installed uv: $*" && exit 0
exit 99
"""


def run_bootstrap(
    tmp_path: Path, *args: str, python: str = FAKE_PYTHON
) -> subprocess.CompletedProcess[str]:
    checkout = tmp_path / "checkout"
    (checkout / "tools").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tools" / "uv", checkout / "tools" / "uv")
    fake = tmp_path / "python3"
    fake.write_text(python)
    fake.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(fake), "CALLS": str(tmp_path / "calls")}
    return subprocess.run(
        ["sh", str(checkout / "tools" / "uv"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_an_externally_managed_python_gets_uv_in_the_checkout(tmp_path: Path) -> None:
    first = run_bootstrap(tmp_path, "sync", "--frozen")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "uv from the checkout: sync --frozen"
    assert "externally-managed-environment" in first.stderr
    assert (tmp_path / "checkout" / ".uv-tool" / "bin" / "uv").exists()

    again = run_bootstrap(tmp_path, "run", "pytest")  # no second install
    assert again.stdout.strip() == "uv from the checkout: run pytest"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert sum("pip install" in call for call in calls) == 2  # plain, then --target; once


def test_an_installed_uv_is_used_as_is(tmp_path: Path) -> None:
    reply = run_bootstrap(tmp_path, "sync", "--frozen", python=WITH_UV)
    assert reply.stdout.strip() == "installed uv: sync --frozen"
    assert "pip" not in (tmp_path / "calls").read_text()
