"""Text matching for OCR scoring: normalization, word matching, edit distances."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerollout.quality.textmatch import (
    levenshtein,
    ned,
    normalize,
    substring_ned,
    words_found,
)

words = st.text(alphabet="abcxyz019", min_size=1, max_size=6)
separators = st.sampled_from([" ", "\n", "\n\n", " | ", ", "])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("  Café   Crème ", "cafe creme"),
        ("$19.99", "19 99"),
        ("Dr. McAllister", "dr mcallister"),
        ("Straße", "strasse"),
        ("OPEN\n24\tHOURS", "open 24 hours"),
        ("50% OFF", "50 off"),
        ("ﬁne", "fine"),
        ("", ""),
        ("!!! ...", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("expected", "text", "found"),
    [
        ("OPEN 24 HOURS", "OPEN 24 HOURS", True),
        ("OPEN 24 HOURS", "| Lp\n\nOPEN 24\n\nHOURS\n\n|", True),
        ("RESTAURANT", "RESTAU RANT", True),  # OCR split a word
        ("OPEN 24", "OPEN24", True),  # OCR joined words
        ("BREWLAB", "BREW LAB", True),
        ("Hello World", "World\nHello", True),  # psm 11 may change the order
        ("$19.99", "S19.99", True),  # the symbol is not an expected word
        ("Café", "CAFE", True),
        ("Hello Hello", "hello, hello", True),
        ("", "anything", True),
        ("OPEN 24 HOURS", "OPQN 24 HOURS", False),  # one substituted letter
        ("RESTAURANT", "RESTAURNAT", False),  # Tesseract does not auto-correct
        ("Hello Hello", "Hello", False),  # a repeated word must be read as often
        ("cat catalog", "catalog", False),  # one stretch of text serves one word
        ("word", "", False),
        ("Velo Works", "vel gworks", False),
    ],
)
def test_words_found(expected: str, text: str, found: bool) -> None:
    assert words_found(expected, text) is found


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0.0),
        ("abc", "abc", 0.0),
        ("abc", "", 1.0),
        ("", "abc", 1.0),
        ("abc", "abd", 1 / 3),
        ("kitten", "sitting", 3 / 7),
        ("abc", "xyz", 1.0),
    ],
)
def test_ned(a: str, b: str, distance: float) -> None:
    assert ned(a, b) == pytest.approx(distance)


@pytest.mark.parametrize(
    ("expected", "text", "distance"),
    [
        ("", "anything", 0.0),
        ("open", "xx open yy", 0.0),  # clutter read around the text costs nothing
        ("open", "", 1.0),
        ("open", "opqn", 0.25),
        ("open 24", "lp open24 ii", 1 / 7),
        ("hours", "zzzzz", 1.0),
    ],
)
def test_substring_ned(expected: str, text: str, distance: float) -> None:
    assert substring_ned(expected, text) == pytest.approx(distance)


@given(st.text())
def test_normalize_is_idempotent_and_tidy(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert once.casefold() == once


@given(st.text())
def test_text_finds_its_own_words(text: str) -> None:
    assert words_found(text, text)


@given(st.lists(words, min_size=1, max_size=6), st.randoms(), separators)
def test_word_order_and_separators_do_not_matter(
    expected: list[str], rng: random.Random, separator: str
) -> None:
    shuffled = list(expected)
    rng.shuffle(shuffled)
    assert words_found(" ".join(expected), separator.join(shuffled))


@given(st.lists(words, min_size=1, max_size=6))
def test_words_joined_by_ocr_are_found(expected: list[str]) -> None:
    assert words_found(" ".join(expected), "".join(expected))


@given(st.lists(words, min_size=1, max_size=6), st.lists(words, max_size=4))
def test_found_words_are_substrings_without_spaces(expected: list[str], read: list[str]) -> None:
    text = " ".join(read)
    if words_found(" ".join(expected), text):
        spaceless = text.replace(" ", "")
        assert all(word in spaceless for word in expected)


@given(st.lists(words, min_size=1, max_size=4), st.integers(0, 3), st.sampled_from("QW"))
def test_a_substituted_letter_is_not_found(expected: list[str], index: int, letter: str) -> None:
    target = index % len(expected)
    garbled = list(expected)
    garbled[target] = letter + expected[target][1:]  # letters outside the word alphabet
    assert not words_found(" ".join(expected), " ".join(garbled))


@given(st.text(max_size=30), st.text(max_size=30))
def test_ned_bounds_and_symmetry(a: str, b: str) -> None:
    assert 0.0 <= ned(a, b) <= 1.0
    assert ned(a, b) == ned(b, a)
    assert (ned(a, b) == 0.0) == (a == b)
    assert levenshtein(a, b) <= max(len(a), len(b))


@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_substring_ned_is_zero_inside_and_bounded(expected: str, before: str, after: str) -> None:
    assert substring_ned(expected, before + expected + after) == 0.0
    assert 0.0 <= substring_ned(expected, before) <= 1.0
