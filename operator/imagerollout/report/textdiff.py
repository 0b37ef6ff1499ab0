"""Expected text against an OCR reading, the differences marked, everything escaped."""

from __future__ import annotations

import difflib
from html import escape


def marked(expected: str, reading: str) -> str:
    """The reading as HTML: characters the expected text lacks in <ins>, missing ones as <del>.

    Runs of whitespace count as one space, and case is ignored when matching (OCR scoring
    ignores both); the reading keeps its case.
    """
    expected, reading = " ".join(expected.split()), " ".join(reading.split())
    at = reading.lower().find(expected.lower()) if expected else -1
    if at >= 0:  # read in full, amid clutter: only the clutter is marked
        end = at + len(expected)
        return _extra(reading[:at]) + escape(reading[at:end]) + _extra(reading[end:])
    matcher = difflib.SequenceMatcher(None, expected.lower(), reading.lower(), autojunk=False)
    parts = []
    for tag, e_start, e_end, r_start, r_end in matcher.get_opcodes():
        read = escape(reading[r_start:r_end])
        if tag == "equal":
            parts.append(read)
            continue
        if tag in ("delete", "replace"):
            parts.append(f"<del>{escape(expected[e_start:e_end])}</del>")
        if tag in ("insert", "replace"):
            parts.append(f"<ins>{read}</ins>")
    return "".join(parts)


def _extra(text: str) -> str:
    return f"<ins>{escape(text)}</ins>" if text else ""
