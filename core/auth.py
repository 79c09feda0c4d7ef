"""Bearer tokens and roles, from the YAML tokens file (``GRIDWALL_TOKENS_FILE``).

The file maps a token to who holds it::

    dev-feed-token:   {name: simulator, role: feed, sources: [simulator, sensor]}
    dev-officer-token: {name: 值班员王, role: officer}

A holder may also name who acts with the token (issue 12): ``person`` (a person id of
``config/organisation.yaml``: every case step sent with the token is that person's, a
different ``actor`` is refused) or, for an app acting for many people, ``acts_for`` (the
organisation roles whose people it may act for, ``"*"`` for all; ``resident`` covers
everybody the organisation does not list)::

    tok-officer-pl01: {name: 闫宇, role: feed, sources: [grid_worker_app], person: C-PL01}
    tok-resident-app: {name: resident app, role: feed, sources: [resident_app],
                       acts_for: [resident]}

A token with neither is a *legacy* token: its case steps are taken as sent, unchecked by
the authority rules (old files stay valid).

Roles: ``feed`` writes inputs (only the ``sources`` listed, ``"*"`` for all), ``viewer``
reads the wall, ``officer`` also acts on alerts, ``ops`` also tunes the stream jobs,
``admin`` may do everything. :meth:`TokenBook.check` answers who a token is and whether it
may do a thing; it never raises for an unknown token (it returns None).

:func:`require_safe_tokens_file` is what the serving processes (gateway, hub, wall) run at
start: outside dev mode (``GRIDWALL_DEV=1``) they refuse a tokens file that other users of
the machine may read or write, and one holding the public example tokens
(``config/tokens.example.yaml``, tokens containing ``change-me``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from domain.organisation import ROLES as ORG_ROLES

ROLES = ("feed", "viewer", "officer", "ops", "admin")
# What each role may do, beyond reading.
PERMISSIONS: dict[str, frozenset[str]] = {
    "feed": frozenset({"ingest"}),
    "viewer": frozenset({"view"}),
    "officer": frozenset({"view", "act"}),
    "ops": frozenset({"view", "act", "tune"}),
    "admin": frozenset({"view", "act", "tune", "ingest"}),
}


class TokensFileError(ValueError):
    """The tokens file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class Principal:
    """Whoever holds a token: a name, a role and the input sources it may write."""

    name: str
    role: str
    sources: frozenset[str]
    person: str | None = None
    acts_for: frozenset[str] | None = None

    @property
    def legacy(self) -> bool:
        """True for a token naming neither a person nor the roles it acts for."""
        return self.person is None and self.acts_for is None

    def may(self, permission: str) -> bool:
        """True if the role grants ``permission`` (``ingest``, ``view``, ``act``, ``tune``)."""
        return permission in PERMISSIONS[self.role]

    def may_write_source(self, source: str) -> bool:
        """True if this principal may ingest input claiming ``source``."""
        return self.may("ingest") and ("*" in self.sources or source in self.sources)


class ActorRefused(Exception):
    """A client-sent actor the credential does not allow: ``rule`` and ``reason``."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{rule}: {reason}")
        self.rule = rule
        self.reason = reason


def credential_actor(principal: Principal, claimed: str | None) -> str | None:
    """Who a step sent with ``principal``'s token is stamped as (the gateway and hub both ask).

    * A token naming a ``person``: that person; a different non-empty ``claimed`` actor
      raises :class:`ActorRefused` ``actor.is-token-person``.
    * A token with ``acts_for``: ``claimed``, which must be given (``actor.required``);
      whether it is of the token's roles needs the organisation, so the caller checks it.
    * A legacy token: ``claimed`` as sent (None when none was).
    """
    if principal.person is not None:
        if claimed and claimed != principal.person:
            raise ActorRefused("actor.is-token-person",
                               f"this token acts as {principal.person}, not {claimed}")
        return principal.person
    if principal.acts_for is not None and not claimed:
        raise ActorRefused("actor.required", "a token acting for many people must name the "
                                             "actor")
    return claimed or None


class TokenBook:
    """The tokens of one file, looked up in constant time."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._by_token = dict(principals)

    def check(self, token: str | None) -> Principal | None:
        """The principal holding ``token``, or None (missing or unknown token)."""
        if not token:
            return None
        presented = token.encode()  # bytes: compare_digest refuses non-ASCII str
        for known, principal in self._by_token.items():
            if secrets.compare_digest(known.encode(), presented):
                return principal
        return None

    @classmethod
    def load(cls, path: Path) -> TokenBook:
        """Read and validate a tokens file."""
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise TokensFileError(f"{path}: tokens file not found") from None
        except yaml.YAMLError as exc:
            raise TokensFileError(f"{path}: not valid YAML: {exc}") from None
        return cls.from_mapping(data, str(path))

    @classmethod
    def from_mapping(cls, data: Any, where: str = "tokens") -> TokenBook:
        """Validate plain data (token → {name, role, sources}) into a book."""
        if not isinstance(data, dict) or not data:
            raise TokensFileError(f"{where}: expected a mapping of token to holder")
        book: dict[str, Principal] = {}
        for token, holder in data.items():
            if not isinstance(token, str) or len(token) < 8:
                raise TokensFileError(f"{where}: every token must be a string of 8+ characters")
            if not isinstance(holder, dict) or holder.get("role") not in ROLES:
                raise TokensFileError(
                    f"{where}: token …{token[-4:]}: role must be one of {', '.join(ROLES)}")
            sources = holder.get("sources", ["*"] if holder["role"] == "admin" else [])
            if not isinstance(sources, list):
                raise TokensFileError(f"{where}: token …{token[-4:]}: sources must be a list")
            book[token] = Principal(str(holder.get("name", holder["role"])), holder["role"],
                                    frozenset(map(str, sources)),
                                    *_acting(holder, f"{where}: token …{token[-4:]}"))
        return cls(book)


def _acting(holder: dict[str, Any], where: str) -> tuple[str | None, frozenset[str] | None]:
    """The holder's ``person`` and ``acts_for`` (None when absent), validated."""
    person, acts_for = holder.get("person"), holder.get("acts_for")
    if person is not None and (not isinstance(person, str) or not person):
        raise TokensFileError(f"{where}: person must be a person id")
    if acts_for is None:
        return person, None
    if person is not None:
        raise TokensFileError(f"{where}: give person or acts_for, not both")
    known = {*ORG_ROLES, "*"}
    if not isinstance(acts_for, list) or not set(map(str, acts_for)) <= known:
        raise TokensFileError(f"{where}: acts_for must be a list of {', '.join(sorted(known))}")
    return None, frozenset(map(str, acts_for))


# The dev tokens `gridwall up` writes, by label (the token is ``dev-<label>-<hex>``). The
# last five name people of config/organisation.yaml, so /cases and /leader work out of the
# box: the centre's duty officer, a community officer, a unit handler, a leader and a grid
# worker (a unit test checks each against the file).
_PEOPLE_SOURCES = ["command_centre", "grid_worker_app"]
DEV_HOLDERS: dict[str, dict[str, Any]] = {
    "feed": {"name": "dev-feeds", "role": "feed", "sources": ["*"]},
    "viewer": {"name": "大屏", "role": "viewer"},
    "officer": {"name": "值班员", "role": "officer"},
    "ops": {"name": "运维", "role": "ops"},
    "centre": {"name": "石欣飞", "role": "feed", "sources": _PEOPLE_SOURCES,
               "person": "CC-duty"},
    "community": {"name": "闫宇", "role": "feed", "sources": _PEOPLE_SOURCES,
                  "person": "C-PL01"},
    "handler": {"name": "钟斌", "role": "feed", "sources": _PEOPLE_SOURCES,
                "person": "D-handler"},
    "leader": {"name": "李文秀", "role": "feed", "sources": _PEOPLE_SOURCES,
               "person": "L-secretary"},
    "worker": {"name": "范娟桂", "role": "feed", "sources": _PEOPLE_SOURCES,
               "person": "W-PL01-01-1"},
}


def _dev_label(token: str) -> str | None:
    """``<label>`` of a token ``dev-<label>-<hex>`` of a :data:`DEV_HOLDERS` label, else None."""
    head, _, tail = token.rpartition("-")
    label = head.removeprefix("dev-")
    return label if head.startswith("dev-") and tail and label in DEV_HOLDERS else None


def ensure_dev_tokens(path: Path) -> dict[str, str]:
    """Create a tokens file with one random token per :data:`DEV_HOLDERS` label unless it
    exists; a file holding only dev tokens gets the labels it lacks added (a file with any
    other token is never changed).

    Returns label → token for the dev tokens of the file, and role → token for its other
    tokens (a dev token wins: ``feed`` is always the dev feed token when there is one).
    """
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    data = data if isinstance(data, dict) else {}
    labels = {_dev_label(str(token)) for token in data}
    missing = [label for label in DEV_HOLDERS if label not in labels]
    if missing and None not in labels:
        data.update({f"dev-{label}-{secrets.token_hex(12)}": DEV_HOLDERS[label]
                     for label in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(path.name + ".new")
        fresh.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        fresh.chmod(0o600)
        fresh.replace(path)
    found = {holder["role"]: token for token, holder in data.items()
             if isinstance(holder, dict) and "role" in holder and not _dev_label(str(token))}
    found.update({label: token for token in data if (label := _dev_label(str(token)))})
    return found


EXAMPLE_TOKEN_MARK = "change-me"  # every token of config/tokens.example.yaml contains it


def tokens_file_problems(path: Path) -> list[str]:
    """Why ``path`` is unfit to hold real tokens (empty list: fit, or it does not exist).

    Unfit: readable or writable by every user of the machine (mode ``o+r``/``o+w``), or
    holding a token of the public example file.
    """
    try:
        mode = path.stat().st_mode
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []  # missing or malformed: the process's own loading says so
    problems = []
    if mode & 0o006:
        problems.append(f"{path} is readable or writable by every user (mode "
                        f"{mode & 0o777:o}); chmod 600 it and give it to the process's user")
    example = [token for token in (data if isinstance(data, dict) else {})
               if isinstance(token, str) and EXAMPLE_TOKEN_MARK in token]
    if example:
        problems.append(f"{path} holds {len(example)} public example token(s) "
                        f"('{EXAMPLE_TOKEN_MARK}...'); "
                        "write your own (e.g. python -c 'import secrets; "
                        "print(secrets.token_urlsafe(24))')")
    return problems


def require_safe_tokens_file(path: Path, dev: bool) -> None:
    """Raise :class:`TokensFileError` naming every problem of ``path``, unless ``dev``."""
    problems = [] if dev else tokens_file_problems(path)
    if problems:
        raise TokensFileError("; ".join(problems) + " (GRIDWALL_DEV=1 accepts it for "
                              "development only)")
