"""Unpack the real control plane's binaries for the tests (etcd, kube-apiserver,
kube-controller-manager, kubectl), like envtest's setup tool: from a directory of
`NAME.xz` files and a SHA256SUMS of the unpacked binaries, into a cache directory named
after those sums, checking each one. Prints the directory to use as CAUSEWAY_KUBE_ASSETS.

    python3 tools/kube_assets.py [SOURCE_DIR] [--cache DIR]

SOURCE_DIR defaults to ../shared/k8s-test-assets beside the checkout. A binary already
unpacked with the right sum is kept; a wrong sum is an error (exit 1), never used."""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "k8s-test-assets"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "causeway"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")


class AssetError(Exception):
    """The assets are missing or do not match their sums."""


def read_sums(path: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack(source: Path, cache: Path) -> Path:
    """The directory holding every binary, unpacked and checked."""
    sums_file = source / "SHA256SUMS"
    if not sums_file.is_file():
        raise AssetError(f"{sums_file} not found")
    sums = read_sums(sums_file)
    missing = [b for b in BINARIES if b not in sums]
    if missing:
        raise AssetError(f"{sums_file} has no sum for {', '.join(missing)}")
    key = hashlib.sha256("".join(sums[b] for b in BINARIES).encode()).hexdigest()[:16]
    target = cache / f"k8s-assets-{key}"
    target.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        _unpack_one(source / f"{name}.xz", target / name, sums[name])
    return target


def _unpack_one(packed: Path, binary: Path, expected: str) -> None:
    if binary.is_file() and sha256(binary) == expected:
        return
    if not packed.is_file():
        raise AssetError(f"{packed} not found")
    with tempfile.NamedTemporaryFile(dir=binary.parent, delete=False) as out:
        with lzma.open(packed) as unpacked:
            shutil.copyfileobj(unpacked, out, 1 << 20)
        partial = Path(out.name)
    actual = sha256(partial)
    if actual != expected:
        partial.unlink()
        raise AssetError(f"{packed.name}: sum {actual} is not the expected {expected}")
    partial.chmod(0o755)
    partial.replace(binary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(f"{unpack(args.source, args.cache)}\n")
    except (AssetError, OSError, lzma.LZMAError) as exc:
        sys.stderr.write(f"kube_assets: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
