"""Settings from NAME or NAME_FILE (a file holding the value: Docker and Swarm secrets)."""

import os

import environ
from environ.environ import FileAwareMapping


class _StrippedFileMapping(FileAwareMapping):
    """django-environ's file-aware mapping, without the trailing newline `echo x > file`
    leaves (it would end up inside a database URL or a token)."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if self.env.get(key + "_FILE"):
            return value.rstrip("\r\n")
        return value


class SecretFileEnv(environ.FileAwareEnv):
    """`env("SECRET_KEY")` reads $SECRET_KEY_FILE when it is set, else $SECRET_KEY."""

    ENVIRON = _StrippedFileMapping()


def read_secret(name: str) -> str:
    """$NAME_FILE's contents (its trailing newline dropped) when set, else $NAME, else "":
    the worker reads the secrets it hands to releases this way."""
    path = os.environ.get(name + "_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\r\n")
    return os.environ.get(name, "")
