"""Secrets that live outside the database: the Django secret key, data-encryption keys, the blind-index
key and the audit-chain key.

Each secret comes from an environment variable when it is set, otherwise from a JSON key file
(``JINDU_KEY_FILE``, default ``var/keys.json``, mode 0600). A new embedded installation (no
DATABASE_URL, no database file yet) creates the file on first start; ``jindu keys init`` creates it
for a PostgreSQL installation.
This module imports nothing from Django so that settings can use it.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ENV_SECRET_KEY = "JINDU_SECRET_KEY"
# "k1:<32 hex>,k2:<32 hex>" (SM4: 16 bytes) — every data key ever active, so old ciphertexts stay readable;
# the last one is active unless JINDU_ACTIVE_DATA_KEY names another.
ENV_DATA_KEYS = "JINDU_DATA_KEYS"
ENV_ACTIVE_DATA_KEY = "JINDU_ACTIVE_DATA_KEY"
ENV_BLIND_INDEX_KEY = "JINDU_BLIND_INDEX_KEY"
ENV_AUDIT_KEY = "JINDU_AUDIT_KEY"

SM4_KEY_BYTES = 16  # SM4 has a 128-bit key
MAC_KEY_BYTES = 32


class KeyringError(RuntimeError):
    """Raised when keys are missing or malformed."""


@dataclass
class Keyring:
    """All secrets the application needs, with the identifier of the data key used for new ciphertexts."""

    secret_key: str
    data_keys: dict[str, bytes]
    active_data_key: str
    blind_index_key: bytes
    audit_key: bytes
    source: str = field(default="environment")

    def data_key(self, key_id: str) -> bytes:
        try:
            return self.data_keys[key_id]
        except KeyError:
            raise KeyringError(f"unknown data key {key_id!r}: is the key file complete?") from None

    def to_json(self) -> dict:
        return {
            "secret_key": self.secret_key,
            "data_keys": {key_id: key.hex() for key_id, key in self.data_keys.items()},
            "active_data_key": self.active_data_key,
            "blind_index_key": self.blind_index_key.hex(),
            "audit_key": self.audit_key.hex(),
        }


def _hex_key(value: str, expected: int, what: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise KeyringError(f"{what} is not hexadecimal") from None
    if len(key) != expected:
        raise KeyringError(f"{what} must be {expected} bytes ({expected * 2} hex digits), got {len(key)}")
    return key


def generate_keyring() -> Keyring:
    """A fresh keyring with random keys (used for the demo and for new installations)."""
    return Keyring(
        secret_key=secrets.token_urlsafe(50),
        data_keys={"k1": secrets.token_bytes(SM4_KEY_BYTES)},
        active_data_key="k1",
        blind_index_key=secrets.token_bytes(MAC_KEY_BYTES),
        audit_key=secrets.token_bytes(MAC_KEY_BYTES),
        source="generated",
    )


def parse_keyring(data: dict, source: str) -> Keyring:
    try:
        data_keys = {
            key_id: _hex_key(value, SM4_KEY_BYTES, f"data key {key_id}")
            for key_id, value in data["data_keys"].items()
        }
        ring = Keyring(
            secret_key=str(data["secret_key"]),
            data_keys=data_keys,
            active_data_key=str(data["active_data_key"]),
            blind_index_key=_hex_key(data["blind_index_key"], MAC_KEY_BYTES, "blind index key"),
            audit_key=_hex_key(data["audit_key"], MAC_KEY_BYTES, "audit key"),
            source=source,
        )
    except KeyError as missing:
        raise KeyringError(f"{source}: missing {missing}") from None
    if ring.active_data_key not in ring.data_keys:
        raise KeyringError(f"{source}: active data key {ring.active_data_key!r} is not in data_keys")
    return ring


def write_key_file(path: Path, ring: Keyring) -> None:
    """Write the key file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # O_CREAT applies the mode only to a new file: a stale temporary file keeps its own mode.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(ring.to_json(), handle, indent=2)
    os.replace(temporary, path)


def load_keyring(key_file: Path, *, create: bool = False) -> Keyring | None:
    """Environment variables win over the key file, secret by secret.

    Returns None when neither the environment nor the key file provides the keys and ``create`` is false.
    """
    file_data: dict = {}
    if key_file.is_file():
        file_data = json.loads(key_file.read_text())
    elif create and not os.environ.get(ENV_DATA_KEYS):
        write_key_file(key_file, generate_keyring())
        file_data = json.loads(key_file.read_text())

    merged = dict(file_data)
    if os.environ.get(ENV_SECRET_KEY):
        merged["secret_key"] = os.environ[ENV_SECRET_KEY]
    if os.environ.get(ENV_DATA_KEYS):
        pairs = [item.split(":", 1) for item in os.environ[ENV_DATA_KEYS].split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise KeyringError(f"{ENV_DATA_KEYS} must look like 'k1:<hex>,k2:<hex>'")
        merged["data_keys"] = {key_id.strip(): value for key_id, value in pairs}
        merged["active_data_key"] = pairs[-1][0].strip()
    if os.environ.get(ENV_ACTIVE_DATA_KEY):
        merged["active_data_key"] = os.environ[ENV_ACTIVE_DATA_KEY]
    if os.environ.get(ENV_BLIND_INDEX_KEY):
        merged["blind_index_key"] = os.environ[ENV_BLIND_INDEX_KEY]
    if os.environ.get(ENV_AUDIT_KEY):
        merged["audit_key"] = os.environ[ENV_AUDIT_KEY]
    if not merged:
        return None
    source = str(key_file) if file_data else "environment"
    return parse_keyring(merged, source)
