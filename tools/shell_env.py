"""The environment sandboxed shell commands get: the user's, less what looks like credentials.

A sandbox keeps a command from writing outside the workspace, but the variables it inherits
would hand it the user's cloud keys and tokens (`AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`).
Names that look like credentials are left out unless the `shell_env_pass` setting names them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

# Parts of a variable's name (split at `_`) that mark a credential: `GITHUB_TOKEN`,
# `DB_PASSWORD`, `OPENAI_API_KEY`, `SSH_AUTH_SOCK`, `CLIENT_SECRET_ID`.
_SECRET_PARTS = frozenset({"TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS",
                           "PASSWD", "PASSPHRASE", "PASS", "PWD", "KEY", "KEYS", "APIKEY",
                           "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "AUTHORIZATION",
                           "COOKIE", "COOKIES", "PAT", "DSN"})
_SECRET_WORDS = re.compile(r"TOKEN$|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|APIKEY")
# Whole families of credentials, whatever the rest of the name says.
_SECRET_PREFIXES = ("AWS_", "OP_SESSION_")
# Values that carry a credential whatever the variable is called: `postgres://u:pw@host`.
_SECRET_VALUE = re.compile(
    r"[a-z][a-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@|\b(?:gh[pousr]_|github_pat_|glpat-|xox[abpr]-|"
    r"hf_)[A-Za-z0-9_-]{10,}|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY", re.I)
# Set by the shell or the system, never credentials: kept whatever their name says.
_ALWAYS_KEPT = frozenset({"PWD", "OLDPWD", "HOME", "PATH", "USER", "LOGNAME", "SHELL", "TERM",
                          "LANG", "TMPDIR", "XAUTHORITY", "SSH_ASKPASS", "GIT_ASKPASS"})


def looks_like_credential(name: str, value: str) -> bool:
    """Whether an environment variable looks like it holds a credential."""
    upper = name.upper()
    if upper in _ALWAYS_KEPT:
        return bool(_SECRET_VALUE.search(value))
    parts = set(upper.split("_"))
    return bool(parts & _SECRET_PARTS or _SECRET_WORDS.search(upper)
                or upper.startswith(_SECRET_PREFIXES) or _SECRET_VALUE.search(value))


def sandbox_environment(environ: Mapping[str, str], passed: Iterable[str] = ()) -> dict[str, str]:
    """`environ` without the variables that look like credentials, except those `passed`
    names (exact names or globs such as `AWS_PROFILE` or `NPM_*`)."""
    keep = tuple(passed)
    return {name: value for name, value in environ.items()
            if not looks_like_credential(name, value)
            or any(fnmatch.fnmatchcase(name, pattern) for pattern in keep)}
