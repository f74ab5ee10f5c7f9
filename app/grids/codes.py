"""Grid codes: a district's 6 digits, then 3 more digits per level down to the building.

A parent's code is its child's code minus the last 3 digits, so the whole tree is in the codes: the level
follows from the length, the path from the prefixes, and a subtree is ``code LIKE 'parent%'``.
"""

from __future__ import annotations

from app.errors import InvalidInput

LEVELS: tuple[str, ...] = ("district", "street", "community", "grid", "compound", "building")
LEVEL_LABELS: dict[str, str] = {
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "grid": "综合网格",
    "compound": "小区",
    "building": "楼栋",
}
DISTRICT_LENGTH = 6
SEGMENT_LENGTH = 3
LEVEL_LENGTHS: dict[str, int] = {
    level: DISTRICT_LENGTH + SEGMENT_LENGTH * depth for depth, level in enumerate(LEVELS)
}
LENGTH_LEVELS: dict[int, str] = {length: level for level, length in LEVEL_LENGTHS.items()}
MAX_CODE_LENGTH = LEVEL_LENGTHS["building"]


def depth(level: str) -> int:
    """0 for a district, 5 for a building."""
    return LEVELS.index(level)


def code_problem(code: object, level: str | None = None) -> str | None:
    """Why ``code`` is not a grid code (of ``level``, when given), or None when it is one."""
    if not isinstance(code, str):
        # A number would lose leading zeros, and 21 digits do not survive a float in JavaScript.
        return f"code must be a string of digits, got {type(code).__name__} {code!r}"
    if not code.isascii() or not code.isdigit():
        return f"code {code!r} must contain digits only"
    expected = LENGTH_LEVELS.get(len(code))
    if expected is None:
        lengths = ", ".join(f"{n} ({lv})" for lv, n in LEVEL_LENGTHS.items())
        return f"code {code!r} has {len(code)} digits; expected one of {lengths}"
    if level is not None and level != expected:
        if level not in LEVEL_LENGTHS:
            return f"unknown level {level!r}; expected one of {', '.join(LEVELS)}"
        return (
            f"code {code!r} has {len(code)} digits, which is a {expected}; a {level} code has "
            f"{LEVEL_LENGTHS[level]} digits"
        )
    if code[:DISTRICT_LENGTH] == "0" * DISTRICT_LENGTH:
        return f"code {code!r}: district 000000 does not exist"
    segments = [code[i : i + SEGMENT_LENGTH] for i in range(DISTRICT_LENGTH, len(code), SEGMENT_LENGTH)]
    if "000" in segments:
        # In administrative codes 000 means "none", so it cannot number a child.
        return f"code {code!r}: a 3-digit segment of 000 is reserved (it means 'none')"
    return None


def check_code(code: object, level: str | None = None) -> str:
    """``code`` itself when valid; raises InvalidInput with the reason otherwise."""
    problem = code_problem(code, level)
    if problem is not None:
        raise InvalidInput("invalid grid code", {"code": problem})
    assert isinstance(code, str)
    return code


def level_of(code: str) -> str:
    return LENGTH_LEVELS[len(check_code(code))]


def parent_code(code: str) -> str | None:
    """The parent's code, or None for a district."""
    return code[:-SEGMENT_LENGTH] if len(code) > DISTRICT_LENGTH else None


def path_codes(code: str) -> list[str]:
    """Codes from the district down to ``code`` itself."""
    return [code[:n] for n in range(DISTRICT_LENGTH, len(code) + 1, SEGMENT_LENGTH)]
