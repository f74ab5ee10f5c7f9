"""The password policy for new passwords: long enough, not only digits, not the username, not common.

Applied where a password is chosen (creating a user, changing a password); existing hashes are never
re-checked, so a password set before the policy keeps working until it is changed. Reasons are zh-CN first,
English after, like the API's other messages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, username: str) -> list[str]:
    """Why ``password`` may not be chosen by ``username``; empty when it may."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"密码至少 {MIN_LENGTH} 个字符 (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        problems.append(f"密码最多 {MAX_LENGTH} 个字符 (at most {MAX_LENGTH} characters)")
    if password.isdigit():
        problems.append("密码不能全是数字 (not only digits)")
    name = username.strip().lower()
    if name and name in password.lower():
        problems.append("密码不能等于或包含用户名 (must not be or contain the username)")
    if password.lower() in common_passwords() or len(set(password)) <= 2:
        problems.append("密码太常见，容易被猜到 (too common: easy to guess)")
    return problems
