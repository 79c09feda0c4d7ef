"""Tokens that belong to a person, or act for roles; old files stay valid (legacy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.auth import TokenBook, TokensFileError

REPO = Path(__file__).resolve().parents[2]


def test_person_and_acts_for_are_read_and_old_holders_stay_legacy() -> None:
    book = TokenBook.from_mapping({
        "tok-person-0001": {"role": "feed", "sources": ["*"], "person": "C-PL01"},
        "tok-app-0000001": {"role": "feed", "sources": ["resident_app"],
                            "acts_for": ["resident"]},
        "tok-old-0000001": {"role": "feed", "sources": ["*"]},
    })
    person, app, old = (book.check(t) for t in ("tok-person-0001", "tok-app-0000001",
                                                  "tok-old-0000001"))
    assert person is not None and person.person == "C-PL01" and not person.legacy
    assert app is not None and app.acts_for == frozenset({"resident"}) and not app.legacy
    assert old is not None and old.legacy and old.person is None


@pytest.mark.parametrize("holder, problem", [
    ({"role": "feed", "person": "C-PL01", "acts_for": ["resident"]}, "not both"),
    ({"role": "feed", "acts_for": ["mayor"]}, "acts_for"),
    ({"role": "feed", "acts_for": "resident"}, "acts_for"),
    ({"role": "feed", "person": 7}, "person"),
])
def test_a_wrong_holder_is_refused_naming_the_field(holder: dict, problem: str) -> None:
    with pytest.raises(TokensFileError, match=problem):
        TokenBook.from_mapping({"tok-wrong-00001": holder})


def test_the_example_file_shows_both_kinds() -> None:
    book = TokenBook.load(REPO / "config" / "tokens.example.yaml")
    officer = book.check("change-me-officer-pl01")
    app = book.check("change-me-resident-app")
    assert officer is not None and officer.person == "C-PL01"
    assert app is not None and app.acts_for == frozenset({"resident"})
