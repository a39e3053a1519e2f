"""The workbench's logins: user names, argon2 password hashes and roles, in a JSON file in
the dataset folder (`annotate-users.json`, mode 0600).

A user is also a person of the label store with the same id and role: the store is what
enforces roles on labels and reviews. The store's roles are append-only, so `set_role`
can only give a role the store agrees with (a person never registered, or the same role).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from haptics.dataset.store import HUMAN_ROLES, LabelStore
from haptics.errors import ConfigError, LabelError

USERS_FILE = "annotate-users.json"
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
_HASHER = PasswordHasher()


class Users:
    """The logins of one dataset folder."""

    def __init__(self, dataset_dir: Path, store: LabelStore) -> None:
        self.path = dataset_dir / USERS_FILE
        self.store = store

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The users' table under an exclusive lock, written back atomically on exit."""
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._load()
            yield data
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        finally:
            os.close(fd)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"{self.path} cannot be read ({exc}); restore it or remove it and add the "
                "users again with `haptics annotate users add`"
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} is not a users file; remove it and add users again")
        return data

    def add(self, name: str, password: str, role: str) -> None:
        """Add a login (and the label store's person). Raises LabelError for a bad name,
        role or short password, or a name already taken."""
        if not USERNAME.match(name):
            raise LabelError("a user name is 1 to 64 letters, digits or _ . @ -")
        if role not in HUMAN_ROLES:
            raise LabelError(f"unknown role '{role}'; roles: {', '.join(HUMAN_ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise LabelError(f"a password has at least {MIN_PASSWORD} characters")
        with self._locked() as data:
            if name in data:
                raise LabelError(f"user '{name}' exists; change their role with `set-role`")
            self.store.add_person(name, role)
            data[name] = {"hash": _HASHER.hash(password), "role": role}

    def set_role(self, name: str, role: str) -> None:
        """Change a user's role. Raises LabelError for an unknown user or a role the label
        store's append-only record of that person refuses."""
        if role not in HUMAN_ROLES:
            raise LabelError(f"unknown role '{role}'; roles: {', '.join(HUMAN_ROLES)}")
        with self._locked() as data:
            if name not in data:
                raise LabelError(f"no user '{name}'; add them with `haptics annotate users add`")
            self.store.add_person(name, role)  # refuses a change the store's log forbids
            data[name]["role"] = role

    def list(self) -> list[dict[str, str]]:
        """Every user with their role (never the hashes)."""
        return [{"user": n, "role": str(d["role"])} for n, d in sorted(self._load().items())]

    def verify(self, name: str, password: str) -> str | None:
        """The user's role if the password is theirs, else None (also for unknown users)."""
        entry = self._load().get(name)
        if entry is None:
            with contextlib.suppress(VerificationError, InvalidHashError):
                _HASHER.verify(_DUMMY, password)  # same time whether or not the user exists
            return None
        try:
            _HASHER.verify(str(entry["hash"]), password)
        except (VerificationError, InvalidHashError):
            return None
        return str(entry["role"])


_DUMMY = _HASHER.hash("not-a-real-password")
