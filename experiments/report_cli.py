"""``recloop-report PATH``: one offline page comparing finished runs (a sweep, or one run).

The page groups runs into variants (overrides minus ``seed``); its sections are built in
``experiments/sweep_page.py``, this module finds the runs, assembles and writes the page. A
sweep's page loads plotly.js from one ``plotly.min.js`` beside it; one run's stays a
single self-contained file.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go

from recloop.experiments import runs as rl
from recloop.experiments.plotlyjs import INLINE, SHARED, write_plotlyjs
from recloop.experiments.png import export_png
from recloop.experiments.report import Block, blocks_html, details_table, html_page, write_html
from recloop.experiments.sweep_page import page_blocks


class ReportError(Exception):
    """A problem the user can fix (wrong path, nothing finished); shown as one line."""



def render(blocks: Sequence[Block], title: str, details: dict[str, str],
           skipped: Sequence[rl.Skipped], *, lead: str = "",
           plotlyjs: bool | str = INLINE) -> str:
    """Assemble the page, ``lead`` (the headline) first; plotly.js is loaded by the first
    figure only, inlined or (``SHARED``) from ``plotly.min.js`` beside the page."""
    parts = [lead, details_table(details)]
    if skipped:
        items = "".join(f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}"
                        "</li>" for s in skipped)
        parts.append(f"<h2>Skipped runs</h2><ul>{items}</ul>")
    parts += blocks_html(blocks, plotlyjs)
    return html_page(title, "\n".join(parts))


def build_report(
    path: Path, out: Path | None = None, png: bool = False
) -> tuple[Path, list[rl.Run], list[rl.Skipped]]:
    """Find, load and report the finished runs under ``path``; return what was written.

    With ``png``, each figure is also exported beside the page (``<page>_png/``) when
    kaleido and a browser are available; otherwise one line on stderr says why not.
    """
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path} is not a directory")
    found, skipped = rl.find_runs(path)
    runs, unreadable = rl.load_runs(found)
    skipped += unreadable
    if not runs:
        note = (f" ({len(skipped)} skipped: failed, unfinished or unreadable; first: "
                f"{skipped[0].path.name}: {skipped[0].reason})") if skipped else ""
        raise ReportError(f"no finished runs under {path}{note}")
    keys = rl.assign_variants(runs)
    details = {
        "path": str(path.resolve()),
        "finished runs": str(len(runs)),
        "variants": str(len({r.variant for r in runs})),
        "swept parameters": ", ".join(keys) or "none (seeds only)",
        "skipped runs": str(len(skipped)),
    }
    gaps = [f"{r.path.name}: {', '.join(map(str, r.missing_days))}" for r in runs if r.missing_days]
    if gaps:
        details["log days missing (figures cover the rest)"] = "; ".join(gaps)
    blocks, lead = page_blocks(runs, keys, path)
    single = len(runs) == 1 and runs[0].path.resolve() == path.resolve()
    target = Path(out if out is not None else path / "report.html")
    if not single:
        write_plotlyjs(target.parent)
    text = render(blocks, f"recloop report: {path.resolve().name}", details, skipped,
                  lead=lead, plotlyjs=INLINE if single else SHARED)
    write_html(text, target)
    if png:
        figures = [(heading, fig) for heading, _, fig in blocks if isinstance(fig, go.Figure)]
        written, reason = export_png(figures, target.with_name(target.stem + "_png"))
        note = f"{len(written)} PNG files in {written[0].parent}" if written else \
            f"PNG export skipped: {reason}"
        print(f"recloop-report: {note}", file=sys.stderr)
    return target, runs, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Console script; exit status 2 with one line on stderr when there is nothing to report."""
    parser = argparse.ArgumentParser(
        prog="recloop-report",
        description="One offline HTML report over a run directory or a sweep of them.",
    )
    parser.add_argument("path", type=Path, help="a run directory, or a folder of them (a sweep)")
    parser.add_argument("--out", type=Path, help="where to write (default: PATH/report.html)")
    parser.add_argument("--png", action="store_true",
                        help="also export every figure as PNG (needs the [png] extra and Chrome)")
    args = parser.parse_args(argv)
    try:
        target, runs, skipped = build_report(args.path, args.out, args.png)
    except ReportError as err:
        print(f"recloop-report: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unwritable --out or folder: one line, not a traceback
        print(f"recloop-report: cannot write the report: {err.strerror or err} "
              f"({err.filename or args.out or args.path})", file=sys.stderr)
        return 2
    for skip in skipped:
        print(f"recloop-report: skipped {skip.path}: {skip.reason}", file=sys.stderr)
    for run in runs:
        if run.missing_days:
            days = ", ".join(map(str, run.missing_days))
            print(f"recloop-report: {run.path}: log days missing: {days}", file=sys.stderr)
    print(f"report: {target} (runs: {len(runs)}, variants: {len({r.variant for r in runs})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
