"""Which files look like they hold secrets, and hiding credentials in text.

`secret_reason` says why a file looks like it holds secrets: environment files,
private keys, credential stores. The registry asks before reading one in every
approval mode but `auto`. `redact_credentials` hides passwords and tokens written
into URLs and authorization headers; the registry applies it to every tool result.
"""

from __future__ import annotations

import re
from pathlib import Path

_SNIFF_MAX_SIZE = 1 << 20
_SNIFF_BYTES = 64 << 10
_PRIVATE_KEY_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults"})
_SSH_KEY = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)")
_SECRET_FILES = {
    **dict.fromkeys((".netrc", "_netrc", ".pgpass", ".pypirc", ".npmrc", ".git-credentials",
                     "credentials", "credentials.json"), "credentials"),
    **dict.fromkeys(("secrets.yml", "secrets.yaml", "secrets.json", "secrets.toml"),
                    "a secrets file"),
    ".htpasswd": "password hashes",
    "terraform.tfstate": "Terraform state",
}
_SECRET_SUFFIXES = {
    ".key": "a private key file",
    ".ppk": "a private key file",
    ".p12": "a key store",
    ".pfx": "a key store",
    ".jks": "a key store",
    ".keystore": "a key store",
    ".kdbx": "a password database",
    ".credentials": "credentials",
    ".tfstate": "Terraform state",
    ".tfstate.backup": "Terraform state",
}
# Files that hold keys or only public material (certificates, public keys): secret by
# name while their content cannot be read, cleared when it shows no private key.
_KEY_CONTAINERS = {
    ".pem": "a PEM file that may hold a private key",
    ".asc": "a PGP file that may hold a private key",
    ".gpg": "a PGP file that may hold a private key",
}
_SECRET_FOLDERS = {".ssh": "an SSH file", ".aws": "AWS credentials", ".gnupg": "a GnuPG file"}
_SECRET_FOLDER_FILES = {(".docker", "config.json"): "registry credentials",
                        (".kube", "config"): "cluster credentials"}


_BACKUP_SUFFIX = re.compile(r"(?:~|\.(?:bak|old|orig|save|swp|swo|backup|tmp|copy|prev|\d+))$")
_ENV_NAME = re.compile(r"\.env(?:[^a-z].*)?")
_NAME_PARTS = re.compile(r"[._~-]")


def _is_env_file(name: str) -> bool:
    """`.env`, `.env.local`, `.env-prod`, `prod.env`, `.envrc`, and their backups (`.env~`)."""
    while (stripped := _BACKUP_SUFFIX.sub("", name)) != name and stripped:
        name = stripped
    if name == ".envrc":
        return True
    if _ENV_NAME.fullmatch(name):
        return not _ENV_TEMPLATES.intersection(_NAME_PARTS.split(name[4:]))
    if name.endswith(".env"):
        return not _ENV_TEMPLATES.intersection(_NAME_PARTS.split(name[:-4]))
    return False


def _secret_by_name(path: Path) -> str | None:
    name = path.name.lower()
    folders = [part.lower() for part in path.parts[:-1]]
    if _is_env_file(name):
        return f"an environment file ({path.name})"
    if _SSH_KEY.match(name) and not name.endswith(".pub"):
        return f"an SSH private key ({path.name})"
    if name in _SECRET_FILES:
        return f"{_SECRET_FILES[name]} ({path.name})"
    if name.startswith("service-account") and name.endswith(".json"):
        return f"a service account key ({path.name})"
    for suffix, what in _SECRET_SUFFIXES.items():
        if name.endswith(suffix):
            return f"{what} ({path.name})"
    for folder in folders:
        if folder in _SECRET_FOLDERS:
            return f"{_SECRET_FOLDERS[folder]} ({path.name})"
    if folders and (folders[-1], name) in _SECRET_FOLDER_FILES:
        return f"{_SECRET_FOLDER_FILES[folders[-1], name]} ({path.name})"
    return None


def _read_head(path: Path, limit: int) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > _SNIFF_MAX_SIZE:
            return None
        with path.open("rb") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return None


def _pgp_secret_packet(data: bytes) -> bool:
    """Whether binary OpenPGP data starts with a secret key packet (tags 5 and 7)."""
    if not data or not data[0] & 0x80:
        return False
    tag = data[0] & 0x3F if data[0] & 0x40 else (data[0] >> 2) & 0x0F
    return tag in (5, 7)


def secret_reason(path: Path, named: str | Path | None = None) -> str | None:
    """Why the file at `path` looks like it holds secrets, or None.

    Names decide first (`.env`, `id_rsa`, `*.key`, `.netrc`, files under `.ssh`...): the
    name used, the name `named` (what the file was asked for by, when `path` is already
    resolved) and the name of what symlinks lead to, so a link `notes.txt` to `.env` is a
    secret, and so is a link named `.env.prod` to any file (a name that says secret is
    taken at its word). A readable regular file of at most 1 MB is also a secret when it
    holds a private key, whatever its name; a `.pem`, `.asc` or `.gpg` file whose content
    shows no private key is not. `.env` templates (`.env.example`, `.env.sample`...) are
    not secrets; direnv's `.envrc` is, since it usually exports credentials. Missing or
    unreadable files get the answer their name gives.
    """
    path = Path(path)
    try:
        real = path.resolve()
    except (OSError, ValueError, RuntimeError):
        real = path
    for other in (named, real if real != path.absolute() else None):
        reason = _secret_by_name(Path(other)) if other is not None else None
        if reason and _secret_by_name(path) is None:
            return reason
    return _secret_at(path)


def _secret_at(path: Path) -> str | None:
    suffix = path.suffix.lower()
    head = _read_head(path, _SNIFF_MAX_SIZE if suffix in _KEY_CONTAINERS else _SNIFF_BYTES)
    if head is not None and (_PRIVATE_KEY_PEM.search(head)
                             or (suffix == ".gpg" and _pgp_secret_packet(head))):
        return f"a private key ({path.name})"
    reason = _secret_by_name(path)
    if reason is None and suffix in _KEY_CONTAINERS and head is None:
        return f"{_KEY_CONTAINERS[suffix]} ({path.name})"
    return reason


# `scheme://user:password@`: the password goes, the user stays.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:'\"<>]*):([^\s/@'\"<>]+)@")
# `https://TOKEN@host`: a user name that is a token (a known prefix, or long and random).
_URL_TOKEN = re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]*://)((?:gh[pousr]_|github_pat_|glpat-|hf_|xox[abpr]-|sk-)"
    r"[^\s/@:'\"<>]*|[A-Za-z0-9_\-]{24,})@")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization:\s*(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]+")
_BARE_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16})\b")
REDACTED = "[redacted]"


def redact_credentials(text: str) -> str:
    """`text` with credentials written into URLs, authorization headers and well-known
    token formats (GitHub, GitLab, Slack, Hugging Face, AWS key ids) replaced."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _URL_TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _BARE_TOKEN.sub(REDACTED, text)
