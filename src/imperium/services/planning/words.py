"""Words of an objective, a capability or a description, reduced to comparable stems.

Deliberately plain (lower-case, split on anything not a letter or digit, drop common
English function words, strip a few suffixes) so that what matched is easy to explain:
"marketing" and "market" match, "images" and "image" match; "summarise" and "summary"
do not.
"""

from __future__ import annotations

import re

_STOPWORDS_TEXT = """
    a an the and or but nor of to for with without in on at by from into onto as is are
    be been being was were this that these those it its our your their my we you they i me
    us them new all any each some via using use per than then also plus so such do does
    done make made get got have has had will shall should would can could may might must
    not no yes very more most less least after before over under about up down out off
    please"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Verbs and nouns nearly every agent description uses; they say nothing about which agent
# fits, so description matches ignore them (a capability *named* "write" still matches).
_GENERIC_TEXT = """
    write run return create build handle perform execute process work task job agent
    tool output input result payload"""
GENERIC = frozenset(_GENERIC_TEXT.split())
_SUFFIXES = ("ation", "ment", "ing", "ion", "ate", "ed", "er", "e")
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if suffix in ("ing", "ed", "er") and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # scanning -> scann -> scan
            break
    return w


def stems(text: str) -> dict[str, str]:
    """The content words of ``text`` (lower-cased) and their stems."""
    words = _WORD.findall(text.lower().replace("_", " "))
    return {w: stem(w) for w in words if w not in STOPWORDS and len(w) > 1}


def terms(text: str) -> set[str]:
    """The stems of the content words of ``text``."""
    return set(stems(text).values())


def description_terms(text: str) -> set[str]:
    """``terms`` without the generic words of ``GENERIC``."""
    return terms(text) - _GENERIC_STEMS


_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC)
