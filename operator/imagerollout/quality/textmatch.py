"""Pure text matching for OCR scoring: normalization, word matching, edit distance."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Unicode category initials replaced by a space: punctuation, symbols, separators, controls.
_SPACE_CATEGORIES = frozenset("PSZC")


def normalize(text: str) -> str:
    """Casefold, strip accents and punctuation, collapse whitespace to single spaces."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    chars = [_fold_char(ch) for ch in folded]
    return " ".join("".join(chars).split())


def _fold_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Mn":  # combining mark: an accent
        return ""
    return " " if category[0] in _SPACE_CATEGORIES else ch


def words_found(expected: str, text: str) -> bool:
    """True when every expected word occurs in the OCR text after normalization.

    Matching ignores spaces, so OCR that splits a word ("RESTAU RANT") or joins
    words ("OPEN24") still matches. Each stretch of OCR text satisfies at most one
    expected word, so a repeated word must be read as often as it is expected.
    """
    haystack = _Haystack(normalize(text).split())
    words = sorted(normalize(expected).split(), key=len, reverse=True)
    return all(haystack.consume(word) for word in words)


class _Haystack:
    """The OCR tokens joined without spaces, with token boundaries and used spans."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.text = "".join(tokens)
        self.used = [False] * len(self.text)
        self.boundaries = {0}
        position = 0
        for token in tokens:
            position += len(token)
            self.boundaries.add(position)

    def consume(self, word: str) -> bool:
        """Mark the best free occurrence of `word` used; False when there is none."""
        starts = [s for s in self._occurrences(word) if not any(self.used[s : s + len(word)])]
        if not starts:
            return False
        best = max(starts, key=lambda s: self._alignment(s, s + len(word)))
        self.used[best : best + len(word)] = [True] * len(word)
        return True

    def _occurrences(self, word: str) -> list[int]:
        starts: list[int] = []
        index = self.text.find(word)
        while index >= 0:
            starts.append(index)
            index = self.text.find(word, index + 1)
        return starts

    def _alignment(self, start: int, end: int) -> int:
        """Prefer occurrences that start and end on OCR token boundaries."""
        return int(start in self.boundaries) + int(end in self.boundaries)


def ned(a: str, b: str) -> float:
    """Normalized Levenshtein distance in 0..1: 0 for equal strings, 1 for nothing in common."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 0.0
    return levenshtein(a, b) / longest


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit costs for insertion, deletion and substitution."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def substring_ned(expected: str, text: str) -> float:
    """Edit distance from `expected` to its closest stretch of `text`, over len(expected).

    0 when `text` contains `expected` exactly (OCR of surrounding clutter costs nothing),
    1 when nothing of it is there. 0 for an empty `expected`.
    """
    if not expected:
        return 0.0
    previous = [0] * (len(text) + 1)  # a match may start anywhere in `text`
    for i, char_e in enumerate(expected, start=1):
        current = [i]
        for j, char_t in enumerate(text, start=1):
            cost = 0 if char_e == char_t else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return min(previous) / len(expected)
