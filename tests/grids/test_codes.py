import pytest

from app.errors import InvalidInput
from app.grids.codes import (
    LEVEL_LENGTHS,
    check_code,
    code_problem,
    depth,
    level_of,
    parent_code,
    path_codes,
)


def test_levels_and_lengths():
    assert LEVEL_LENGTHS == {
        "district": 6,
        "street": 9,
        "community": 12,
        "grid": 15,
        "compound": 18,
        "building": 21,
    }
    assert [level_of(c) for c in ("510124", "510124001", "510124001002003004005")] == [
        "district",
        "street",
        "building",
    ]
    assert depth("district") == 0 and depth("building") == 5


def test_parent_and_path_follow_the_prefixes():
    assert parent_code("510124") is None
    assert parent_code("510124001") == "510124"
    assert parent_code("510124001002003") == "510124001002"
    assert path_codes("510124001002003") == ["510124", "510124001", "510124001002", "510124001002003"]
    assert path_codes("510124") == ["510124"]


@pytest.mark.parametrize(
    ("code", "level", "fragment"),
    [
        ("5101240011", None, "has 10 digits; expected one of 6 (district), 9 (street)"),
        ("51012A", None, "digits only"),
        ("５１０１２４", None, "digits only"),  # full-width digits are not ASCII
        (510124, None, "must be a string of digits"),
        ("510124001", "community", "a street; a community code has 12 digits"),
        ("510124001", "town", "unknown level 'town'"),
        ("510124000", None, "segment of 000 is reserved"),
        ("000000", None, "district 000000 does not exist"),
        ("", None, "digits only"),
    ],
)
def test_bad_codes_say_why(code, level, fragment):
    problem = code_problem(code, level)
    assert problem is not None and fragment in problem


def test_good_codes_pass():
    assert code_problem("510124001001001001001", "building") is None
    assert check_code("510124") == "510124"


def test_check_code_raises_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        check_code("12")
    assert "has 2 digits" in caught.value.details["code"]
