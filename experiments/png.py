"""Optional PNG copies of a report's figures, for slides and papers.

Rendering a plotly figure to PNG needs kaleido (the ``[png]`` extra) and a Chrome or
Chromium it can drive. Either may be missing on a given machine; then the export is
skipped with one line saying why, and the HTML report, which needs neither, still stands.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

PNG_SCALE = 2  # pixel density: sharp on slides


def slug(text: str) -> str:
    """A file-name-safe version of a heading."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure"


def export_png(figures: Sequence[tuple[str, go.Figure]], folder: Path) -> tuple[list[Path], str]:
    """Write ``NN_heading.png`` per figure into ``folder``; return the paths, or none and why.

    The folder is filled under a temporary name and renamed when complete, so a failed
    export never leaves a partial set beside the report.
    """
    try:
        import kaleido  # noqa: F401  (plotly finds it by import)
    except ImportError:
        return [], "kaleido is not installed (pip install 'recloop[png]')"
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    names = [f"{i:02d}_{slug(heading)}.png" for i, (heading, _) in enumerate(figures, start=1)]
    try:
        pio.write_images([fig for _, fig in figures], [staging / n for n in names],
                         scale=PNG_SCALE)
    except Exception as err:  # noqa: BLE001  (no browser, a crashed one: all mean "skip")
        shutil.rmtree(staging, ignore_errors=True)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return [], f"kaleido could not render ({reason})"
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return [folder / n for n in names], ""
