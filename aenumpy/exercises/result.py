"""The result of a check: ``ok``, one row per case, and a short table in Spanish as its repr."""
from __future__ import annotations

import textwrap
import unicodedata

BLANK = "todavía sin escribir"


def _width(text):
    """Columns a label takes: combining marks (the hat of ρ̂) take none."""
    return sum(not unicodedata.combining(c) for c in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


class Result:
    """What :func:`aenumpy.exercises.check` found.

    ``ok`` is True when every case agrees with the reference; ``written`` is False for a blank
    (the function still raises ``NotImplementedError``); ``rows`` holds one dict per case
    (``case``, ``ok``, ``message``); ``message`` is the first failing case's message (or "").
    ``print(result)`` (or its repr) shows the table.
    """

    def __init__(self, name, title, rows, written=True, error=None):
        self.name = name
        self.title = title
        self.rows = rows
        self.written = written
        self.error = error

    @property
    def ok(self) -> bool:
        return self.written and self.error is None and bool(self.rows) and \
            all(r["ok"] for r in self.rows)

    @property
    def message(self) -> str:
        if not self.written:
            return BLANK
        if self.error:
            return self.error
        return next((r["message"] for r in self.rows if not r["ok"]), "")

    def __bool__(self):
        return self.ok

    def __repr__(self):
        head = f"Ejercicio {self.name} · {self.title}"
        if not self.written:
            return (f"{head}\n  … {BLANK}: sustituye el raise NotImplementedError() por tu "
                    "código y vuelve a ejecutar la comprobación")
        if self.error:
            return f"{head}\n  ✗ {self.error}"
        width = max(len("caso"), *(_width(r["case"]) for r in self.rows))
        lines = [head, f"  {_pad('caso', width)}  resultado"]
        for r in self.rows:
            mark = "✓ bien" if r["ok"] else "✗ mal"
            msg = "" if r["ok"] else textwrap.fill(
                r["message"], 96, initial_indent=" " * (width + 6),
                subsequent_indent=" " * (width + 6))
            lines.append(f"  {_pad(r['case'], width)}  {mark}" + ("\n" + msg if msg else ""))
        bad = sum(not r["ok"] for r in self.rows)
        lines.append("  → correcto: coincide con la biblioteca en todos los casos" if not bad
                     else f"  → {bad} de {len(self.rows)} casos mal")
        return "\n".join(lines)

    __str__ = __repr__
