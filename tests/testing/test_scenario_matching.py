"""Scenario.on(): words match whole words, regexes search, predicates decide; first turn wins."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.testing import Scenario
from agentkit.testing.ids import IdFactory
from agentkit.testing.scenario import PlannedText, word_pattern
from tests.testing.helpers import user_text


def _answer(scenario: Scenario, text: str) -> str:
    user: dict[str, Any] = {"id": "u1", **user_text(text)}
    (planned,) = scenario.runner().plan([user], [], IdFactory())
    assert isinstance(planned, PlannedText)
    return planned.text


@pytest.mark.parametrize(
    ("words", "text", "matches"),
    [
        ("lock", "Please lock the door", True),
        ("lock", "LOCK.", True),
        ("lock", "lock", True),
        ("lock", "block the door", False),
        ("lock", "the locker", False),
        ("new york", "flights to New  York?", True),
        ("new york", "new yorker", False),
        ("A-1002", "status of order a-1002 please", True),
        ("A-1002", "order A-10021", False),
        ("?", "why?", True),
        ("weather", "What's the weather in Oslo?", True),
        ("weather", "weathered", False),
    ],
)
def test_words_match_whole_words_case_insensitively(words: str, text: str, matches: bool) -> None:
    assert (word_pattern(words).search(text) is not None) is matches


@given(st.text(min_size=1).filter(str.strip))
def test_any_words_match_themselves_between_spaces(words: str) -> None:
    assert word_pattern(words).search(f"say {words} now") is not None


@given(st.from_regex(r"[a-z][a-z -]{0,20}", fullmatch=True))
def test_ascii_words_match_in_any_case(words: str) -> None:
    assert word_pattern(words).search(f"say {words.upper()} now") is not None


def test_the_lock_rule_no_longer_answers_block() -> None:
    scenario = Scenario().on("lock").say("locked").on("block").say("blocked").scenario
    assert _answer(scenario, "block the number") == "blocked"
    assert _answer(scenario, "lock the door") == "locked"


def test_first_matching_turn_wins_in_the_order_added() -> None:
    scenario = Scenario().on("door").say("first").on("lock").say("second").scenario
    assert _answer(scenario, "lock the door") == "first"


def test_regex_searches_and_a_plain_substring_is_a_regex() -> None:
    scenario = (
        Scenario()
        .on(re.compile(r"^\d+$")).say("number")
        .on(re.compile("lock", re.IGNORECASE)).say("substring")
        .scenario
    )  # fmt: skip
    assert _answer(scenario, "42") == "number"
    assert _answer(scenario, "Block it") == "substring"


def test_predicate_decides() -> None:
    scenario = Scenario().on(lambda text: len(text) > 10).say("long").otherwise("short")
    assert _answer(scenario, "a rather long sentence") == "long"
    assert _answer(scenario, "tiny") == "short"


def test_blank_words_and_other_types_are_refused() -> None:
    with pytest.raises(ValueError, match="on_any"):
        Scenario().on("  ")
    with pytest.raises(TypeError, match="not int"):
        Scenario().on(3)  # type: ignore[arg-type]
