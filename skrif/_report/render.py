"""The report as a list of blocks (:class:`Block`), rendered twice — Markdown
(``summary.md``) and one self-contained HTML file (``summary.html``, figures embedded
as base64) — so the two never disagree; number formatting shared by the sections."""

import base64
import html
from dataclasses import dataclass, field

import numpy as np


# -- document blocks ------------------------------------------------------------------
@dataclass
class Block:
    """One piece of the report: heading, paragraph, list, table or image."""

    kind: str  # "h1", "h2", "h3", "p", "list", "table", "image"
    text: str = ""
    items: list = field(default_factory=list)  # list items, or table rows
    header: list = field(default_factory=list)
    image: bytes = b""
    anchor: str = ""


def _esc_md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks):
    """The blocks as GitHub-flavoured Markdown."""
    marks = {"h1": "#", "h2": "##", "h3": "###"}
    lines = []
    for b in blocks:
        if b.kind in marks:
            lines += [f"{marks[b.kind]} {b.text}", ""]
        elif b.kind == "p":
            lines += [b.text, ""]
        elif b.kind == "list":
            lines += [f"- {item}" for item in b.items] + [""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_esc_md(h) for h in b.header) + " |")
            lines.append("|" + "|".join("---" for _ in b.header) + "|")
            lines += ["| " + " | ".join(_esc_md(c) for c in row) + " |" for row in b.items]
            lines.append("")
        elif b.kind == "image":
            lines += [f"![{b.text}]({b.anchor})", ""]
    return "\n".join(lines)


def render_html(blocks, title):
    """The blocks as one self-contained HTML page (images embedded as base64)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>',
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;"
        "line-height:1.4}table{border-collapse:collapse;margin:.5em 0 1em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}"
        "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
        "img{max-width:100%}</style>",
        "</head><body>",
    ]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            parts.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
        elif b.kind == "p":
            parts.append(f"<p>{e(b.text)}</p>")
        elif b.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{e(str(h))}</th>" for h in b.header)
            body = []
            for row in b.items:
                cells = "".join(
                    f'<td class="n">{e(str(c))}</td>' if _numeric_text(c) else f"<td>{e(str(c))}</td>"
                    for c in row
                )
                body.append(f"<tr>{cells}</tr>")
            ident = f' id="{e(b.anchor)}"' if b.anchor else ""
            parts.append(f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        elif b.kind == "image":
            data = base64.b64encode(b.image).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{data}" alt="{e(b.text)}">')
    parts += ["</body></html>", ""]
    return "\n".join(parts)


def _numeric_text(cell):
    try:
        float(str(cell).replace("−", "-"))
    except ValueError:
        return False
    return True


# -- number formatting ----------------------------------------------------------------
def fmt(value, digits=4):
    """Fixed-point, or ``n/a`` for a non-finite value (never "nan" as a result)."""
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def sig(value, digits=3):
    """Significant digits, or ``n/a``."""
    value = float(value)
    if not np.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    return text.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
