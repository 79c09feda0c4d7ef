"""Masking of residents' personal data and removal of credentials, before anything is shown.

Guarantees:

* :func:`mask_name` keeps only the family name: the first character of a Chinese-order name
  (the first two for a compound surname such as 欧阳), the last word of a Western-order name
  written with spaces; every other letter becomes ``*``.
* :func:`mask_phone` keeps the first 3 and last 4 digits, :func:`mask_id_number` the first 4
  and last 2 characters; every other character becomes ``*``. None stays None.
* :func:`mask_text` finds e-mail addresses, Chinese ID numbers (18 and 15 digits, with or
  without separators) and phone numbers (mainland mobiles with or without ``+86`` and
  separators, landlines with an area code) in free text and masks each one; the rest of the
  text is unchanged except that full-width digits become ASCII ones. Digits that are part of
  a longer number are left alone.
* A given name alone (``first_name``) is masked whole; a family name alone is kept.
* :func:`scrub_payload` turns a refused body (JSON, a urlencoded form, or anything else) into
  one that holds no credential (``api_key``, ``token``, ``authorization``, ``password``,
  ``secret`` fields at any depth, ``Bearer`` values) and whose personal fields and free text
  are masked as above.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec

_COMPOUNDS = ("欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯"
              "轩辕令狐钟离端木独孤南宫西门百里呼延闻人澹台公羊太史申屠赫连万俟司空")
COMPOUND_SURNAMES = frozenset(_COMPOUNDS[i:i + 2] for i in range(0, len(_COMPOUNDS), 2))
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``, ``欧阳娜娜`` → ``欧阳**``, ``John Smith`` → ``**** Smith``."""
    if not name:
        return name
    words = name.split()
    if len(words) > 1 and not _CJK.search(name):
        return " ".join([*("*" * len(w) for w in words[:-1]), words[-1]])
    if len(words) > 1:  # a spaced Chinese-order name: the family name comes first
        return " ".join([words[0], *("*" * len(w) for w in words[1:])])
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * (len(name) - keep)


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


_SEP = r"[\s\-.]?"
_EMAIL = re.compile(r"[A-Za-z0-9_.%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
                    r"\.[A-Za-z]{2,24}")
_ID_NUMBER = re.compile(rf"(?<![\dA-Za-z])\d{{6}}{_SEP}(?:\d{{8}}{_SEP}\d{{3}}[\dXx]|\d{{9}})"
                        r"(?![\dA-Za-z])")
_MOBILE = re.compile(rf"(?<![\d+])(?:(?:\+|00)?86{_SEP})?1[3-9]\d(?:{_SEP}\d{{4}}){{2}}(?!\d)")
_LANDLINE = re.compile(rf"(?<![\d+])(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_SEP}\d{{3,4}}{_SEP}\d{{4}}"
                       r"(?!\d)")


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c in "Xx")


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group(0).partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_id(match: re.Match[str]) -> str:
    return mask_id_number(_digits(match.group(0))) or ""


def _mask_phone_match(match: re.Match[str]) -> str:
    digits = _digits(match.group(0))
    if digits.startswith(("0086", "86")) and len(digits) > 11:
        digits = digits[-11:]
    return mask_phone(digits) or ""


def mask_text(text: str | None) -> str | None:
    """Free text with every e-mail, ID number and phone number in it masked."""
    if not text:
        return text
    text = text.translate(_FULLWIDTH_DIGITS)
    if "@" in text:
        text = _EMAIL.sub(_mask_email, text)
    text = _MOBILE.sub(_mask_phone_match, text)
    text = _ID_NUMBER.sub(_mask_id, text)
    return _LANDLINE.sub(_mask_phone_match, text)


REMOVED = "[removed]"
_CREDENTIAL_WORDS = ("api_key", "apikey", "token", "authorization", "password", "passwd",
                     "secret", "credential", "cookie")
_NAME_FIELDS = frozenset({"reporter_name", "person_name", "name", "full_name"})
_GIVEN_NAME_FIELDS = frozenset({"first_name", "given_name"})
_PHONE_FIELDS = frozenset({"reporter_phone", "person_phone", "phone", "mobile", "telephone"})
_ID_FIELDS = frozenset({"person_id_number", "id_number", "id_card"})
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_INLINE_CREDENTIAL = re.compile(
    r"(?i)((?:" + "|".join(_CREDENTIAL_WORDS) + r")[\w\-]{0,32}[\"']?\s{0,8}[:=]\s{0,8})"
    r"(\"[^\"]*\"?|'[^']*'?|[^\s&,;}\]]*)")
_INLINE_PERSONAL = re.compile(
    r"(?i)(?<!\w)((?:first_|given_|last_|reporter_|person_|full_)?"
    r"(?:name|phone|mobile|id_number|id_card))([\"']?\s{0,8}[:=]\s{0,8}[\"']?)"
    r"([^\"'&,;}\]\n]*)")
MAX_DEPTH = 64


def is_credential_field(name: str) -> bool:
    """True for a field name that holds a secret (``api_key``, ``x-auth-token``, ...)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _CREDENTIAL_WORDS)


def scrub_value(name: str, value: Any, depth: int = 0) -> Any:
    """``value`` of field ``name`` with credentials removed and personal data masked."""
    if is_credential_field(name):
        return REMOVED
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return REMOVED
        return {k: scrub_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            return REMOVED
        return [scrub_value(name, v, depth + 1) for v in value]
    if not isinstance(value, str):
        return value
    return _mask_field(name.lower(), value)


def _mask_field(name: str, value: str, inline: bool = False) -> str:
    if name in _NAME_FIELDS:
        return mask_name(value) or ""
    if name in _GIVEN_NAME_FIELDS:
        return "*" * len(value)
    if name in _PHONE_FIELDS:
        return mask_phone(value) or ""
    if name in _ID_FIELDS:
        return mask_id_number(value) or ""
    return value if inline else scrub_text(value)


def _removed_value(match: re.Match[str]) -> str:
    quote = match.group(2)[:1] if match.group(2)[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{REMOVED}{quote}"


def scrub_text(text: str) -> str:
    """Text of unknown shape (a cut or broken body): inline credentials (``"token": "…"``,
    ``api_key=…``, ``Bearer …``) removed, inline personal fields (``"reporter_name": "…"``)
    and personal patterns masked."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REMOVED}", text)
    text = _INLINE_CREDENTIAL.sub(_removed_value, text)
    text = _INLINE_PERSONAL.sub(_masked_value, text)
    return mask_text(text) or ""


def _masked_value(match: re.Match[str]) -> str:
    field, between, value = match.groups()
    return field + between + _mask_field(field.lower(), value, inline=True)


def scrub_payload(raw: str) -> str:
    """A refused body made safe to keep: JSON stays JSON, a form stays a form, anything else
    (cut, broken) is scrubbed as text."""
    stripped = raw.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return msgspec.json.encode(scrub_value("", msgspec.json.decode(raw))).decode()
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return scrub_text(raw)
    if "=" in raw and not any(c in raw for c in "\n{}"):
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return scrub_text(raw)
        return urlencode([(k, scrub_value(k, v)) for k, v in pairs], safe="*[]")
    return scrub_text(raw)
