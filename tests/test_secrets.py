"""Which files look like they hold secrets: by name, and by content for private keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gemma_code.agent.safety.secrets import redact_credentials, secret_reason

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"

SECRET_NAMES = [
    ".env",
    ".env.local",
    ".env.production",
    "prod.env",
    ".envrc",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "id_dsa",
    "id_rsa.old",
    "server.key",
    "cert.p12",
    "store.pfx",
    "app.jks",
    "release.keystore",
    "vault.kdbx",
    "putty.ppk",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    "gcp.credentials",
    "secrets.yml",
    "secrets.yaml",
    "secrets.json",
    "secrets.toml",
    ".htpasswd",
    "service-account-prod.json",
    "terraform.tfstate",
    ".ssh/config",
    ".ssh/known_hosts",
    ".aws/config",
    ".gnupg/pubring.kbx",
    ".docker/config.json",
    ".kube/config",
    "unread.pem",
    "unread.asc",
]

ORDINARY_NAMES = [
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    ".env.defaults",
    ".env.local.example",
    "example.env",
    "environment.py",
    "env.py",
    ".flaskenv",
    "keys.py",
    "id_rsa.pub",
    "id_ed25519.pub",
    "README.md",
    "config.json",
    "secrets.py",
    "server.crt",
    ".docker/Dockerfile",
    "src/credentials_form.tsx",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(tmp_path: Path, name: str) -> None:
    reason = secret_reason(tmp_path / name)
    assert isinstance(reason, str) and Path(name).name in reason


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_names(tmp_path: Path, name: str) -> None:
    assert secret_reason(tmp_path / name) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".env", "an environment file (.env)"),
        ("id_rsa", "an SSH private key (id_rsa)"),
        (".netrc", "credentials (.netrc)"),
        ("server.key", "a private key file (server.key)"),
    ],
)
def test_secret_reasons_say_what_the_file_is(tmp_path: Path, name: str, expected: str) -> None:
    assert secret_reason(tmp_path / name) == expected


def test_private_key_content_is_secret_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("deploy key:\n" + PRIVATE_KEY)
    assert secret_reason(path) == "a private key (notes.txt)"
    (tmp_path / "keys.py").write_text("KEY = 'not a key'\n")
    assert secret_reason(tmp_path / "keys.py") is None


@pytest.mark.parametrize(
    "header",
    ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
     "PGP PRIVATE KEY BLOCK"],
)
def test_every_kind_of_pem_private_key(tmp_path: Path, header: str) -> None:
    path = tmp_path / "blob.txt"
    path.write_text(f"-----BEGIN {header}-----\nAAAA\n-----END {header}-----\n")
    assert secret_reason(path) == "a private key (blob.txt)"


def test_certificates_are_not_secret_but_keys_in_pem_files_are(tmp_path: Path) -> None:
    (tmp_path / "public.pem").write_text(CERTIFICATE)
    (tmp_path / "server.crt").write_text(CERTIFICATE)
    (tmp_path / "bundle.pem").write_text(CERTIFICATE + PRIVATE_KEY)
    (tmp_path / "server.key").write_text(CERTIFICATE)
    (tmp_path / "leaked.crt").write_text(PRIVATE_KEY)
    assert secret_reason(tmp_path / "public.pem") is None
    assert secret_reason(tmp_path / "server.crt") is None
    assert secret_reason(tmp_path / "bundle.pem") == "a private key (bundle.pem)"
    assert secret_reason(tmp_path / "server.key") == "a private key file (server.key)"
    assert secret_reason(tmp_path / "leaked.crt") == "a private key (leaked.crt)"


def test_pgp_files_are_judged_by_content(tmp_path: Path) -> None:
    (tmp_path / "public.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBF\n")
    (tmp_path / "private.asc").write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBF\n")
    (tmp_path / "secring.gpg").write_bytes(bytes([0x95, 0x01, 0xD8]) + b"\x04" * 40)
    (tmp_path / "pubring.gpg").write_bytes(bytes([0x99, 0x01, 0x0D]) + b"\x04" * 40)
    (tmp_path / "new-format.gpg").write_bytes(bytes([0xC5, 0x58]) + b"\x04" * 40)
    assert secret_reason(tmp_path / "public.asc") is None
    assert secret_reason(tmp_path / "private.asc") == "a private key (private.asc)"
    assert secret_reason(tmp_path / "secring.gpg") == "a private key (secring.gpg)"
    assert secret_reason(tmp_path / "pubring.gpg") is None
    assert secret_reason(tmp_path / "new-format.gpg") == "a private key (new-format.gpg)"


def test_large_files_are_not_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text(PRIVATE_KEY + "x" * (1 << 20))
    assert secret_reason(path) is None
    near = tmp_path / "late.txt"
    near.write_text("x" * (70 << 10) + PRIVATE_KEY)
    assert secret_reason(near) is None


def test_missing_and_odd_paths_never_raise(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert secret_reason(tmp_path / "file" / ".env") == "an environment file (.env)"
    assert secret_reason(tmp_path / "nothing" / "key.pem") == (
        "a PEM file that may hold a private key (key.pem)")
    assert secret_reason(tmp_path) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "stream.txt"
    os.mkfifo(fifo)
    assert secret_reason(fifo) is None
    env_fifo = tmp_path / ".env"
    os.mkfifo(env_fifo)
    assert secret_reason(env_fifo) == "an environment file (.env)"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_files_get_the_name_based_answer(tmp_path: Path) -> None:
    pem = tmp_path / "server.pem"
    pem.write_text(CERTIFICATE)
    hidden = tmp_path / "notes.txt"
    hidden.write_text(PRIVATE_KEY)
    pem.chmod(0)
    hidden.chmod(0)
    try:
        assert secret_reason(pem) == "a PEM file that may hold a private key (server.pem)"
        assert secret_reason(hidden) is None
    finally:
        pem.chmod(0o600)
        hidden.chmod(0o600)


# --- issue 18: the name used and the file reached; broader .env names; credentials in text ----

ENV_VARIANTS = [".env~", ".env-local", ".env_local", ".env.bak", ".env.prod~", ".env.local.old",
                "prod.env.bak", "staging.env~", ".env.1", ".env2"]
ENV_TEMPLATE_VARIANTS = [".env-example", ".env_sample", ".env.example.bak", "example.env~",
                         ".envoy.yaml", ".environment"]


@pytest.mark.parametrize("name", ENV_VARIANTS)
def test_env_file_variants_and_backups_are_secrets(tmp_path: Path, name: str) -> None:
    assert secret_reason(tmp_path / name) == f"an environment file ({name})"


@pytest.mark.parametrize("name", ENV_TEMPLATE_VARIANTS)
def test_env_templates_and_look_alikes_are_not(tmp_path: Path, name: str) -> None:
    assert secret_reason(tmp_path / name) is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
def test_a_symlink_is_judged_by_its_name_and_by_what_it_reaches(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_TOKEN=s3cr3t\n")
    (tmp_path / "settings.txt").write_text("DEBUG=1\n")
    (tmp_path / "notes.txt").symlink_to(".env")
    (tmp_path / ".env.prod").symlink_to("settings.txt")
    assert secret_reason(tmp_path / "notes.txt") == "an environment file (.env)"
    # A link named like a secret asks too: the name is what the person and the model go by.
    assert secret_reason(tmp_path / ".env.prod") == "an environment file (.env.prod)"
    assert secret_reason(tmp_path / "settings.txt") is None
    # Already resolved by the caller: the name it was asked by still counts.
    assert secret_reason(tmp_path / "settings.txt", named=".env.prod") == (
        "an environment file (.env.prod)")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "deploy_key").write_text("key material\n")
    (tmp_path / "conf").symlink_to(tmp_path / ".ssh")
    assert secret_reason(tmp_path / "conf" / "deploy_key") == "an SSH file (deploy_key)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("url = https://alice:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git",
         "url = https://alice:[redacted]@github.com/o/r.git"),
        ("remote: https://x-access-token:s3cr3t-T0ken@github.com/o/r",
         "remote: https://x-access-token:[redacted]@github.com/o/r"),
        ("https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git",
         "https://[redacted]@github.com/o/r.git"),
        ("DATABASE_URL=postgres://app:hunter2@db:5432/app",
         "DATABASE_URL=postgres://app:[redacted]@db:5432/app"),
        ("\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzXzEyMzQ=",
         "\textraheader = AUTHORIZATION: basic [redacted]"),
        ("token glpat-abcdefghij0123456789 leaked", "token [redacted] leaked"),
        ("key AKIAIOSFODNN7EXAMPLE here", "key [redacted] here"),
        ("git@github.com:owner/repo.git", "git@github.com:owner/repo.git"),
        ("ssh://git@github.com:22/owner/repo", "ssh://git@github.com:22/owner/repo"),
        ("http://localhost:8000/api?x=1", "http://localhost:8000/api?x=1"),
        ("see https://example.com/a@b for mail", "see https://example.com/a@b for mail"),
    ],
)
def test_credentials_in_urls_and_headers_are_redacted(text: str, expected: str) -> None:
    assert redact_credentials(text) == expected
