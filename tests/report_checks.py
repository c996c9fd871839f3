"""Checks of the report HTML shared by the report tests: every element bound to an indicators cell
(``data-cell``), with its text (its own text, nested elements and SVG <title> included)."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "wbr"}
NUMBER = re.compile(r"\d[\d.,]*")


class CellTexts(HTMLParser):
    """``cells``: data-cell id -> list of the texts of the elements bound to it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, list[str]]] = []
        self.cells: dict[str, list[str]] = defaultdict(list)

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        self.stack.append((tag, dict(attrs).get("data-cell"), []))

    def handle_startendtag(self, tag, attrs):
        cid = dict(attrs).get("data-cell")
        if cid:
            self.cells[cid].append("")

    def handle_endtag(self, tag):
        while self.stack:
            name, cid, texts = self.stack.pop()
            text = "".join(texts)
            if self.stack:
                self.stack[-1][2].append(text)
            if cid:
                self.cells[cid].append(text)
            if name == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def cell_texts(html: str) -> dict[str, list[str]]:
    parser = CellTexts()
    parser.feed(html)
    parser.close()
    return dict(parser.cells)


def numbers(text: str) -> set[str]:
    """Number tokens of a text, in the report's spelling (1.234 → 1234; 12,5 → 12.5)."""
    out = set()
    for token in NUMBER.findall(text):
        token = token.rstrip(".,")
        out.add(token.replace(".", "").replace(",", "."))
    return out


def spelled(value: float) -> str:
    """A value as the number token the report would write for it (counts)."""
    return str(int(round(value))) if float(value).is_integer() else f"{value:.1f}"


def value_part(text: str) -> str:
    """What an element says about its value: the text after its label ("Kab. Mesuji: 12" → " 12";
    "2025-07: sel disamarkan" → " sel disamarkan"); the whole text when it has no label."""
    return text.rsplit(":", 1)[-1]
