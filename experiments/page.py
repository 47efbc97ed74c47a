"""An HTML page of report blocks: heading, caption, then a figure or ready HTML.

Every report page (one run's, a sweep's) is assembled from the same pieces, so they share
one look and load plotly.js exactly once, with the page's first figure.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from recloop.sim.atomic import atomic_path

Block = tuple[str, str, "go.Figure | str"]  # heading, caption (may be ''), figure or HTML

PLOT_CONFIG: dict[str, object] = {"displaylogo": False, "responsive": True}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #222; }
h1 { margin-bottom: 0.5rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
table.details { border-collapse: collapse; font-size: 0.9rem; }
table.details th, table.details td {
  border: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left;
}
table.details th { background: #f5f5f5; }
p.empty { font-style: italic; color: #666; }
p.caption { color: #555; max-width: 60rem; margin-top: 0; }
p.headline, ul.headline { font-size: 1.05rem; max-width: 60rem; line-height: 1.45; }
p.not-shown { margin-top: 1rem; }
"""


def details_table(details: Mapping[str, str] | None) -> str:
    """Render run details as a key/value table; everything is escaped (values are free text)."""
    if not details:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in details.items()
    )
    return f'<table class="details">{rows}</table>'


def html_page(title: str, body: str) -> str:
    """Wrap the body in a minimal standalone HTML document."""
    safe_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{safe_title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{safe_title}</h1>\n{body}\n</body>\n</html>\n"
    )


def figure_html(fig: go.Figure, *, with_plotlyjs: bool | str) -> str:
    """One figure as a ``<div>``; pass ``with_plotlyjs`` for the page's first figure only:
    True inlines the bundle, ``"directory"`` loads ``plotly.min.js`` from beside the page."""
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=with_plotlyjs,
        include_mathjax=False,
        config=PLOT_CONFIG,
        default_height=f"{fig.layout.height}px",
    )


def blocks_html(blocks: Sequence[Block], plotlyjs: bool | str) -> list[str]:
    """Heading, caption and content of each block; plotly.js goes with the first figure."""
    parts: list[str] = []
    js_done = False
    for heading, caption, content in blocks:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if caption:
            parts.append(f'<p class="caption">{html.escape(caption)}</p>')
        if isinstance(content, go.Figure):
            parts.append(figure_html(content, with_plotlyjs=plotlyjs if not js_done else False))
            js_done = True
        else:
            parts.append(content)
    return parts


def write_html(text: str, path: Path) -> Path:
    """Write a page atomically so a crash never leaves a half-written file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
