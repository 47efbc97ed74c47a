"""Where a page gets plotly.js (about 4.8 MB) from: inside itself, or one file beside it.

A single run's report is one file that must open offline wherever it is copied, so it
carries the bundle. A sweep's folder holds many pages (the sweep report, and any page
written next to it); they share one ``plotly.min.js`` written once into the folder, so the
sweep report is a few hundred kilobytes and the folder still opens offline as a whole.
"""

from __future__ import annotations

from pathlib import Path

from plotly.offline import get_plotlyjs

from recloop.sim.atomic import atomic_path

PLOTLYJS_FILE = "plotly.min.js"  # the name plotly's include_plotlyjs="directory" loads
INLINE, SHARED = True, "directory"  # values for figure_html's with_plotlyjs


def write_plotlyjs(folder: Path) -> Path:
    """Put the bundle into ``folder`` unless the same bundle is already there."""
    target = Path(folder) / PLOTLYJS_FILE
    bundle = get_plotlyjs()
    if target.is_file() and target.stat().st_size == len(bundle.encode("utf-8")):
        return target
    with atomic_path(target) as tmp:
        tmp.write_text(bundle, encoding="utf-8")
    return target
