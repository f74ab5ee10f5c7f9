"""Masking personal data for people who may see a dispute but not its parties: pure functions.

- names keep their first character: 张三 → 张*, 欧阳娜娜 → 欧***, Li Wei → L*****
- phones keep the first 3 and last 4 digits of a mobile (13812345678 → 138****5678); other numbers keep
  only their last 4 digits
- addresses are cut before the first house number (栋, 号, 单元, 室, …) or digit, at most 12 characters,
  and end in "…" when something was cut
"""

from __future__ import annotations

import re

MASK = "*"
ADDRESS_KEEP = 12
# Where the identifying part of a Chinese address starts: a number (Arabic, full-width or Chinese), or the
# words that introduce building, unit and room.
_ADDRESS_DETAIL = re.compile(r"[0-9０-９]|[一二三四五六七八九十百零〇两]+\s*(?:栋|幢|号|单元|楼|层|室|户|组)")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def mask_name(name: str) -> str:
    text = name.strip()
    if len(text) <= 1:
        return MASK
    return text[0] + MASK * (len(text) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if _MOBILE.match(digits):
        return f"{digits[:3]}{MASK * 4}{digits[-4:]}"
    if len(digits) <= 4:
        return MASK * len(digits)
    return MASK * (len(digits) - 4) + digits[-4:]


def cut_address(address: str | None) -> str | None:
    if not address:
        return address
    text = address.strip()
    match = _ADDRESS_DETAIL.search(text)
    kept = text[: match.start()] if match else text
    kept = kept[:ADDRESS_KEEP].rstrip()
    return kept if kept == text else kept + "…"
