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


# Placement attempts before words_found gives up (and answers False) on adversarial text.
SEARCH_BUDGET = 20_000


def words_found(expected: str, text: str) -> bool:
    """True when every expected word occurs in the OCR text after normalization.

    Matching ignores spaces, so OCR that splits a word ("RESTAU RANT") or joins
    words ("OPEN24") still matches. Each stretch of OCR text serves at most one
    expected word, so a repeated word must be read as often as it is expected.
    """
    words = sorted(normalize(expected).split(), key=len, reverse=True)
    return _Placement(normalize(text).split()).place(words)


class _Placement:
    """Backtracking search for disjoint places of the words in the spaceless OCR text."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.text = "".join(tokens)
        self.used = [False] * len(self.text)
        self.boundaries = {0}
        position = 0
        for token in tokens:
            position += len(token)
            self.boundaries.add(position)
        self.budget = SEARCH_BUDGET

    def place(self, words: Sequence[str], min_start: int = 0) -> bool:
        """Place `words` (longest first); an equal next word goes after this one."""
        if not words:
            return True
        word, rest = words[0], words[1:]
        for start in self._candidates(word, min_start):
            self.budget -= 1
            if self.budget < 0:
                return False
            self._mark(start, len(word), True)
            following = start + 1 if rest and rest[0] == word else 0
            if self.place(rest, following):
                return True
            self._mark(start, len(word), False)
        return False

    def _candidates(self, word: str, min_start: int) -> list[int]:
        """Free occurrences, those aligned with OCR token boundaries first."""
        starts: list[int] = []
        index = self.text.find(word, min_start)
        while index >= 0:
            if not any(self.used[index : index + len(word)]):
                starts.append(index)
            index = self.text.find(word, index + 1)
        return sorted(starts, key=lambda s: -self._alignment(s, s + len(word)))

    def _mark(self, start: int, length: int, used: bool) -> None:
        self.used[start : start + length] = [used] * length

    def _alignment(self, start: int, end: int) -> int:
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
