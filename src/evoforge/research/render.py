"""A report as a list of blocks, written out as Markdown and as one self-contained HTML file.

Why blocks rather than Markdown converted to HTML: the report is generated, so both formats
come from the same structure and no Markdown parser (or its dependency) is needed; every cell
is escaped for HTML, and model text is shown as text, never as markup.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .plots import embed


@dataclass
class Block:
    kind: str                 # h1 h2 p list table code img note
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)   # table: first row is the header
    items: list[str] = field(default_factory=list)
    path: Path | None = None


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append("#" * int(b.kind[1]) + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "note":
            out.append("> " + b.text.replace("\n", "\n> "))
        elif b.kind == "list":
            out.append("\n".join(f"- {i}" for i in b.items))
        elif b.kind == "table" and b.rows:
            head, *body = b.rows
            out.append("\n".join(["| " + " | ".join(_md_cell(c) for c in head) + " |",
                                  "|" + "---|" * len(head)] + ["| " + " | ".join(_md_cell(c) for c in r) + " |"
                                                               for r in body]))
        elif b.kind == "code":
            out.append(f"```{b.items[0] if b.items else ''}\n{b.text.rstrip()}\n```")
        elif b.kind == "img" and b.path is not None:
            out.append(f"![{b.text}]({b.path.name})")
    return "\n\n".join(out) + "\n"


STYLE = ("body{font-family:sans-serif;max-width:900px;margin:2em auto;line-height:1.45;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}"
         "pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:85%}"
         "blockquote{border-left:4px solid #d33;margin:1em 0;padding:4px 12px;background:#fff4f4}")


#: the report loads nothing: its styles are inline and its plots data: URIs
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def to_html(blocks: list[Block], title: str) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'>"
           f"<meta http-equiv='Content-Security-Policy' content=\"{PAGE_CSP}\"><title>{escape(title)}</title>"
           f"<style>{STYLE}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{escape(b.text)}</p>")
        elif b.kind == "note":
            out.append(f"<blockquote>{escape(b.text)}</blockquote>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table" and b.rows:
            head, *body = b.rows
            out.append("<table><tr>" + "".join(f"<th>{escape(c)}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
                       + "</table>")
        elif b.kind == "code":
            out.append(f"<pre><code>{escape(b.text)}</code></pre>")
        elif b.kind == "img" and b.path is not None:
            out.append(f"<figure>{embed(b.path)}<figcaption>{escape(b.text)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
