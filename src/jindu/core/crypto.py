"""The one small crypto provider interface: SM4-GCM, SM3 and HMAC-SM3.

Everything in Jindu that encrypts, hashes or MACs goes through ``get_provider()``, so that a certified
module (a 服务器密码机 or a KMS, as 密评 expects) can replace the software implementation in one place.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jindu.core.keyring import Keyring

CIPHERTEXT_PREFIX = "sm4gcm"
NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(ValueError):
    """The ciphertext is malformed, was encrypted with an unknown key, or failed authentication."""


class CryptoProvider(Protocol):
    """What the application needs from a cryptographic module."""

    def encrypt(self, plaintext: bytes, *, key_id: str, associated_data: bytes) -> str: ...

    def decrypt(self, token: str, *, associated_data: bytes) -> bytes: ...

    def sm3(self, data: bytes) -> str: ...

    def hmac_sm3(self, key: bytes, data: bytes) -> str: ...


class SoftwareCryptoProvider:
    """SM4-GCM / SM3 / HMAC-SM3 in software through ``cryptography`` (OpenSSL)."""

    def __init__(self, data_keys: dict[str, bytes]) -> None:
        self._data_keys = data_keys

    def encrypt(self, plaintext: bytes, *, key_id: str, associated_data: bytes) -> str:
        """Encrypt with a fresh random nonce; the result names the key so rotation can find old ciphertexts."""
        key = self._data_keys[key_id]
        nonce = os.urandom(NONCE_BYTES)
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated_data)
        body = encryptor.update(plaintext) + encryptor.finalize()
        blob = base64.urlsafe_b64encode(nonce + body + encryptor.tag).decode("ascii")
        return f"{CIPHERTEXT_PREFIX}:{key_id}:{blob}"

    def decrypt(self, token: str, *, associated_data: bytes) -> bytes:
        key_id, blob = parse_ciphertext(token)
        key = self._data_keys.get(key_id)
        if key is None:
            raise DecryptionError(f"ciphertext uses unknown data key {key_id!r}")
        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
        except ValueError:
            raise DecryptionError("ciphertext is not valid base64") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("ciphertext is too short")
        nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(associated_data)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag:
            raise DecryptionError(
                "ciphertext failed authentication (wrong key, field or tampering)"
            ) from None

    def sm3(self, data: bytes) -> str:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize().hex()

    def hmac_sm3(self, key: bytes, data: bytes) -> str:
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(data)
        return mac.finalize().hex()


def parse_ciphertext(token: str) -> tuple[str, str]:
    """Split ``sm4gcm:<key id>:<base64>`` into key id and payload."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != CIPHERTEXT_PREFIX:
        raise DecryptionError("value is not an SM4-GCM ciphertext")
    return parts[1], parts[2]


def constant_time_equal(left: str, right: str) -> bool:
    return std_hmac.compare_digest(left.encode(), right.encode())


_provider: SoftwareCryptoProvider | None = None
_provider_keys: object = None


def get_provider() -> CryptoProvider:
    """The provider for the keys currently configured in settings (rebuilt when the keyring changes)."""
    global _provider, _provider_keys
    from django.conf import settings

    ring: Keyring = settings.JINDU_KEYRING
    if _provider is None or _provider_keys is not ring.data_keys:
        _provider = SoftwareCryptoProvider(ring.data_keys)
        _provider_keys = ring.data_keys
    return _provider
