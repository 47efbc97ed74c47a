"""``recloop-data``: fetch and cache the rating data a calibrated world is built from.

``recloop-data fetch movielens-100k`` tries the GroupLens address first; when that is out
of reach it asks pip for the ``recbole==1.2.1`` wheel, which carries the same data as
RecBole atomic files (``recbole/dataset_example/ml-100k/``), without its dependencies.
The files land in ``<cache>/movielens-100k/`` (``$RECLOOP_DATA``, else
``$XDG_CACHE_HOME/recloop``, else ``~/.cache/recloop``) beside a ``SOURCE.json`` naming
where they came from and each file's SHA-256, which ``recloop-data check`` re-verifies.
A fetch that fails says in one line what it tried and how to use a local copy instead.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from recloop.agents.datasets import dataset_dir

GROUPLENS = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE = "recbole==1.2.1"
RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
ML100K_FILES = ("u.data", "u.item", "u.user")
DATASETS = ("movielens-100k",)


def fetch(name: str, timeout: float = 30.0) -> Path:
    """Fetch ``name`` into the cache (nothing to do when a verified copy is there)."""
    target = dataset_dir(name)
    if (target / "SOURCE.json").is_file() and not verify(target):
        return target
    tried = []
    for label, attempt in _attempts(timeout):
        try:
            files, origin = attempt()
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as err:
            tried.append(f"{label} ({_first_line(err)})")
            continue
        _install(target, files, origin)
        return target
    raise RuntimeError(f"could not fetch {name}: tried {'; '.join(tried)}. Download "
                       "MovieLens yourself and point at its folder with catalog.path=<dir>")


def verify(target: Path) -> list[str]:
    """Files of a cached data set whose SHA-256 no longer matches ``SOURCE.json``."""
    source = json.loads((target / "SOURCE.json").read_text())
    return [name for name, digest in source["sha256"].items()
            if not (target / name).is_file() or _sha256((target / name).read_bytes()) != digest]


def _attempts(timeout: float) -> list[tuple[str, Callable[[], tuple[dict[str, bytes], str]]]]:
    return [(GROUPLENS, lambda: (_from_grouplens(timeout), GROUPLENS)),
            (f"pip download {RECBOLE}", lambda: (_from_recbole(timeout), RECBOLE))]


def _from_grouplens(timeout: float) -> dict[str, bytes]:
    with urllib.request.urlopen(GROUPLENS, timeout=timeout) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    return {name: archive.read(f"ml-100k/{name}") for name in ML100K_FILES}


def _from_recbole(timeout: float) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--dest", tmp, RECBOLE], check=True, capture_output=True,
                       timeout=10 * timeout)
        wheel = zipfile.ZipFile(next(Path(tmp).glob("recbole-*.whl")))
        return {name: wheel.read(RECBOLE_DIR + name) for name in RECBOLE_FILES}


def _install(target: Path, files: dict[str, bytes], origin: str) -> None:
    """Write the files and ``SOURCE.json`` into a fresh folder, then move it in place: a
    fetch that stops half way leaves no half data set behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    for name, data in files.items():
        (staging / name).write_bytes(data)
    digests = {name: _sha256(data) for name, data in sorted(files.items())}
    (staging / "SOURCE.json").write_text(json.dumps({"origin": origin, "sha256": digests},
                                                    indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, subprocess.CalledProcessError) and err.stderr:
        text = err.stderr.decode(errors="replace").strip() or text
    return text.splitlines()[-1] if text else type(err).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recloop-data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command, what in (("fetch", "download and cache"), ("path", "print the cache folder of"),
                          ("check", "re-verify the checksums of")):
        sub.add_parser(command, help=f"{what} a data set").add_argument("name", choices=DATASETS)
    args = parser.parse_args(argv)
    target = dataset_dir(args.name)
    if args.command == "path":
        print(target)
        return 0
    if args.command == "check":
        if not (target / "SOURCE.json").is_file():
            print(f"recloop-data: {args.name} is not fetched (recloop-data fetch {args.name})",
                  file=sys.stderr)
            return 1
        bad = verify(target)
        print(f"{target}: " + ("every checksum matches" if not bad else f"changed: {bad}"))
        return 1 if bad else 0
    try:
        print(fetch(args.name))
    except RuntimeError as err:
        print(f"recloop-data: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
