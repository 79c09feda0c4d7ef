"""Masking of residents' personal data before anything reaches the wall.

Guarantees: :func:`mask_name` keeps only the family name (first character), :func:`mask_phone`
keeps the first 3 and last 4 digits, :func:`mask_id_number` keeps the first 4 and last 2
characters; every other character becomes ``*``. None stays None.
"""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` → ``138****5678``."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(value: str | None) -> str | None:
    """``370102199001011234`` → ``3701************34``."""
    if not value:
        return value
    if len(value) <= 6:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]
