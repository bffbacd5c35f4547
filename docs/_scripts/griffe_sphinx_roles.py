"""A griffe extension for the API reference: bayescale's docstrings are written in
reStructuredText's inline syntax, which Markdown would print as written.

- A Sphinx role (``:func:`~bayescale.x.f```) becomes inline code of the name it shows
  (``~`` keeps the last component, as in Sphinx).
- A ``.. math::`` directive is dropped: its indented block shows as a code block of the
  LaTeX (this site loads no maths renderer); ``.. math:: x`` on one line keeps ``x``.
- A reST simple table (rows between ``====  ====`` rules; a row whose first cell is blank
  continues the row above) becomes a Markdown table.

Only griffe's copy of each docstring changes; the source is left alone."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const|math):`([^`]+)`")


def _shown(match: re.Match) -> str:
    target = match.group(1)
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


MATH = re.compile(r"^(\s*)\.\. math::[ \t]*(\S.*)?$", re.MULTILINE)
RULE = re.compile(r"^(\s*)(=+)(\s+=+)+\s*$")


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    return [
        line[a:b].strip() if i < len(spans) - 1 else line[a:].strip()
        for i, (a, b) in enumerate(spans)
    ]


def _tables(text: str) -> str:
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        rule = RULE.match(lines[i])
        ends = [j for j in range(i + 1, len(lines)) if lines[j] == lines[i]] if rule else []
        if len(ends) < 2:
            out.append(lines[i])
            i += 1
            continue
        spans = [m.span() for m in re.finditer(r"=+", lines[i])]
        header, body, rows = _cells(lines[i + 1], spans), lines[ends[0] + 1 : ends[1]], []
        for line in body:
            cells = _cells(line.ljust(spans[-1][1]), spans)
            if rows and not cells[0]:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            elif line.strip():
                rows.append(cells)
        indent = rule.group(1)
        for row in [header, ["---"] * len(spans), *rows]:
            out.append(indent + "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        i = ends[1] + 1
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            text = MATH.sub(
                lambda m: f"{m.group(1)}    {m.group(2)}" if m.group(2) else "", obj.docstring.value
            )
            obj.docstring.value = ROLE.sub(_shown, _tables(text))
