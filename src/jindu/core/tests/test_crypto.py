"""The crypto provider (SM3, HMAC-SM3, SM4-GCM) and the keyring (key file, environment variables).

Expected values come from the standards' published test vectors or from independent computations in
this file (HMAC from its RFC 2104 definition; GCM from NIST SP 800-38D on top of the raw SM4 block).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

from jindu.core import keyring as keyring_module
from jindu.core.crypto import (
    DecryptionError,
    SoftwareCryptoProvider,
    constant_time_equal,
    get_provider,
    parse_ciphertext,
)
from jindu.core.keyring import (
    Keyring,
    KeyringError,
    generate_keyring,
    load_keyring,
    parse_keyring,
    write_key_file,
)

KEY_A = bytes.fromhex("0123456789abcdeffedcba9876543210")
KEY_B = bytes(range(16))
AD = b"sampleapp.protectedrecord.id_number"

ENV_NAMES = (
    keyring_module.ENV_SECRET_KEY,
    keyring_module.ENV_DATA_KEYS,
    keyring_module.ENV_ACTIVE_DATA_KEY,
    keyring_module.ENV_BLIND_INDEX_KEY,
    keyring_module.ENV_AUDIT_KEY,
)


@pytest.fixture
def provider():
    return SoftwareCryptoProvider({"a": KEY_A, "b": KEY_B})


@pytest.fixture
def clean_env(monkeypatch):
    """No key material in the environment (the test settings put some there)."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def decode_blob(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.split(":", 2)[2])


def encode_token(key_id: str, raw: bytes) -> str:
    return f"sm4gcm:{key_id}:{base64.urlsafe_b64encode(raw).decode()}"


# SM3 ------------------------------------------------------------------------------------------------


def test_sm3_test_vectors_from_gbt_32905(provider):
    # GB/T 32905-2016 appendix A, examples 1 and 2.
    assert provider.sm3(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert provider.sm3(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_is_a_64_hex_digest_and_input_sensitive(provider):
    digest = provider.sm3(b"")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert provider.sm3(b"abd") != provider.sm3(b"abc")


# HMAC-SM3 -------------------------------------------------------------------------------------------


def reference_sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def reference_hmac_sm3(key: bytes, message: bytes) -> str:
    """RFC 2104 HMAC with SM3 (block size 64 bytes), written out by hand."""
    block = 64
    if len(key) > block:
        key = reference_sm3(key)
    key = key.ljust(block, b"\x00")
    inner = reference_sm3(bytes(k ^ 0x36 for k in key) + message)
    return reference_sm3(bytes(k ^ 0x5C for k in key) + inner).hex()


def test_reference_sm3_agrees_with_the_test_vector():
    assert reference_sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


@pytest.mark.parametrize("key_length", [1, 16, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("message", [b"", b"abc", "core.user.name|欧阳小明".encode(), bytes(range(256)) * 3])
def test_hmac_sm3_matches_an_independent_implementation(provider, key_length, message):
    key = bytes((7 * i + 3) % 256 for i in range(key_length))
    assert provider.hmac_sm3(key, message) == reference_hmac_sm3(key, message)


def test_hmac_sm3_depends_on_key_and_message(provider):
    assert provider.hmac_sm3(b"k" * 32, b"m") != provider.hmac_sm3(b"j" * 32, b"m")
    assert provider.hmac_sm3(b"k" * 32, b"m") != provider.hmac_sm3(b"k" * 32, b"n")
    # HMAC is not the plain hash of key and message.
    assert provider.hmac_sm3(b"k" * 32, b"m") != provider.sm3(b"k" * 32 + b"m")


def test_constant_time_equal():
    assert constant_time_equal("abc", "abc")
    assert not constant_time_equal("abc", "abd")
    assert not constant_time_equal("abc", "abcd")


# SM4-GCM --------------------------------------------------------------------------------------------


def sm4_block(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - one raw block
    return encryptor.update(block) + encryptor.finalize()


def gf_mult(x: int, y: int) -> int:
    """Multiplication in GF(2^128) as defined for GHASH (NIST SP 800-38D, algorithm 1)."""
    r = 0xE1 << 120
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def ghash(h: bytes, aad: bytes, ciphertext: bytes) -> bytes:
    def blocks(data: bytes) -> list[bytes]:
        padded = data + b"\x00" * (-len(data) % 16)
        return [padded[i : i + 16] for i in range(0, len(padded), 16)]

    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ciphertext) * 8).to_bytes(8, "big")
    hk, y = int.from_bytes(h, "big"), 0
    for block in [*blocks(aad), *blocks(ciphertext), lengths]:
        y = gf_mult(y ^ int.from_bytes(block, "big"), hk)
    return y.to_bytes(16, "big")


def reference_sm4_gcm(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """SM4-GCM with a 96-bit nonce, built from the raw SM4 block function."""
    h = sm4_block(key, bytes(16))
    j0 = nonce + (1).to_bytes(4, "big")
    stream = b"".join(
        sm4_block(key, nonce + (counter + 2).to_bytes(4, "big"))
        for counter in range((len(plaintext) + 15) // 16)
    )
    ciphertext = bytes(p ^ s for p, s in zip(plaintext, stream, strict=False))
    s = ghash(h, aad, ciphertext)
    tag = bytes(a ^ b for a, b in zip(sm4_block(key, j0), s, strict=True))
    return ciphertext, tag


def test_sm4_block_test_vector_from_gbt_32907():
    # GB/T 32907-2016 appendix A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
    assert sm4_block(KEY_A, KEY_A).hex() == "681edf34d206965e86b3e94f536e4246"


@pytest.mark.parametrize("plaintext", ["13812345678", "11010519491231002X", "欧阳小明", "x" * 100, "a"])
def test_sm4_gcm_round_trip(provider, plaintext):
    token = provider.encrypt(plaintext.encode(), key_id="a", associated_data=AD)
    assert token.startswith("sm4gcm:a:")
    assert decode_blob(token)[12:-16] != plaintext.encode()  # the body is not the plaintext
    assert len(decode_blob(token)) == 12 + len(plaintext.encode()) + 16
    assert provider.decrypt(token, associated_data=AD) == plaintext.encode()


def test_sm4_gcm_ciphertext_layout_matches_an_independent_gcm(provider):
    plaintext = "张三 11010519491231002X 13812345678 and some more text".encode()
    token = provider.encrypt(plaintext, key_id="a", associated_data=AD)
    raw = decode_blob(token)
    assert len(raw) == 12 + len(plaintext) + 16
    nonce, body, tag = raw[:12], raw[12:-16], raw[-16:]
    expected_body, expected_tag = reference_sm4_gcm(KEY_A, nonce, plaintext, AD)
    assert body == expected_body
    assert tag == expected_tag


def test_independently_built_ciphertext_decrypts(provider):
    nonce = bytes(range(12))
    plaintext = b"330203199001011234"
    body, tag = reference_sm4_gcm(KEY_B, nonce, plaintext, AD)
    assert provider.decrypt(encode_token("b", nonce + body + tag), associated_data=AD) == plaintext


def test_encryption_uses_a_random_nonce(provider):
    first = provider.encrypt(b"13812345678", key_id="a", associated_data=AD)
    second = provider.encrypt(b"13812345678", key_id="a", associated_data=AD)
    assert first != second
    assert decode_blob(first)[:12] != decode_blob(second)[:12]
    assert provider.decrypt(first, associated_data=AD) == provider.decrypt(second, associated_data=AD)


def test_empty_plaintext_round_trips(provider):
    token = provider.encrypt(b"", key_id="a", associated_data=AD)
    assert len(decode_blob(token)) == 12 + 16
    assert provider.decrypt(token, associated_data=AD) == b""


def test_tampering_with_any_byte_fails(provider):
    token = provider.encrypt(b"11010519491231002X", key_id="a", associated_data=AD)
    raw = decode_blob(token)
    for position in (0, 11, 12, 20, len(raw) - 17, len(raw) - 16, len(raw) - 1):
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            provider.decrypt(encode_token("a", bytes(tampered)), associated_data=AD)


def test_truncated_or_extended_ciphertext_fails(provider):
    raw = decode_blob(provider.encrypt(b"11010519491231002X", key_id="a", associated_data=AD))
    for changed in (raw[:-1], raw + b"\x00", raw[:27], b""):
        with pytest.raises(DecryptionError):
            provider.decrypt(encode_token("a", changed), associated_data=AD)


def test_wrong_associated_data_fails(provider):
    token = provider.encrypt(b"11010519491231002X", key_id="a", associated_data=AD)
    for other in (b"sampleapp.protectedrecord.name", b"", AD + b"x", AD.upper()):
        with pytest.raises(DecryptionError):
            provider.decrypt(token, associated_data=other)


def test_wrong_key_fails(provider):
    token = provider.encrypt(b"11010519491231002X", key_id="a", associated_data=AD)
    relabelled = token.replace("sm4gcm:a:", "sm4gcm:b:", 1)
    with pytest.raises(DecryptionError):
        provider.decrypt(relabelled, associated_data=AD)


def test_unknown_key_id_fails(provider):
    token = provider.encrypt(b"11010519491231002X", key_id="a", associated_data=AD)
    with pytest.raises(DecryptionError, match="unknown"):
        provider.decrypt(token.replace("sm4gcm:a:", "sm4gcm:zz:", 1), associated_data=AD)
    other = SoftwareCryptoProvider({"b": KEY_B})
    with pytest.raises(DecryptionError):
        other.decrypt(token, associated_data=AD)


@pytest.mark.parametrize(
    "token", ["", "plain text", "aes:a:AAAA", "sm4gcm:a", "sm4gcm", "SM4GCM:a:AAAA", "sm4gcm:a:!!!"]
)
def test_malformed_tokens_fail(provider, token):
    with pytest.raises(DecryptionError):
        provider.decrypt(token, associated_data=AD)


def test_parse_ciphertext():
    assert parse_ciphertext("sm4gcm:k7:abc:def") == ("k7", "abc:def")
    with pytest.raises(DecryptionError):
        parse_ciphertext("sm4:k7:abc")


def test_get_provider_follows_the_configured_keyring(monkeypatch):
    monkeypatch.setattr(settings, "JINDU_KEYRING", settings.JINDU_KEYRING)
    token = get_provider().encrypt(
        b"secret", key_id=settings.JINDU_KEYRING.active_data_key, associated_data=AD
    )
    new_ring = generate_keyring()
    new_ring.data_keys = {"n1": KEY_B}
    new_ring.active_data_key = "n1"
    monkeypatch.setattr(settings, "JINDU_KEYRING", new_ring)
    with pytest.raises(DecryptionError):
        get_provider().decrypt(token, associated_data=AD)
    assert (
        get_provider().decrypt(
            SoftwareCryptoProvider({"n1": KEY_B}).encrypt(b"x", key_id="n1", associated_data=AD),
            associated_data=AD,
        )
        == b"x"
    )


# Keyring --------------------------------------------------------------------------------------------


def key_data(**overrides) -> dict:
    data = {
        "secret_key": "file-secret",
        "data_keys": {"k1": "aa" * 16, "k2": "bb" * 16},
        "active_data_key": "k2",
        "blind_index_key": "cc" * 32,
        "audit_key": "dd" * 32,
    }
    data.update(overrides)
    return data


def test_parse_keyring_valid():
    ring = parse_keyring(key_data(), "test")
    assert ring.data_keys == {"k1": b"\xaa" * 16, "k2": b"\xbb" * 16}
    assert ring.active_data_key == "k2"
    assert ring.blind_index_key == b"\xcc" * 32
    assert ring.audit_key == b"\xdd" * 32
    assert ring.secret_key == "file-secret"
    assert ring.data_key("k1") == b"\xaa" * 16
    with pytest.raises(KeyringError):
        ring.data_key("k9")


@pytest.mark.parametrize(
    "overrides",
    [
        {"data_keys": {"k1": "zz" * 16, "k2": "bb" * 16}},  # not hex
        {"data_keys": {"k1": "aa" * 15, "k2": "bb" * 16}},  # 15 bytes
        {"data_keys": {"k1": "aa" * 32, "k2": "bb" * 16}},  # 32 bytes: SM4 keys are 16
        {"data_keys": {"k1": "aaa", "k2": "bb" * 16}},  # odd number of hex digits
        {"blind_index_key": "cc" * 16},
        {"blind_index_key": "not hex at all"},
        {"audit_key": "dd" * 31},
        {"active_data_key": "k3"},  # active key missing
        {"data_keys": {}},  # no data key at all
    ],
)
def test_parse_keyring_errors(overrides):
    with pytest.raises(KeyringError):
        parse_keyring(key_data(**overrides), "test")


@pytest.mark.parametrize(
    "missing", ["secret_key", "data_keys", "active_data_key", "blind_index_key", "audit_key"]
)
def test_parse_keyring_missing_entry(missing):
    data = key_data()
    del data[missing]
    with pytest.raises(KeyringError, match=missing):
        parse_keyring(data, "test")


def test_to_json_round_trips():
    ring = generate_keyring()
    again = parse_keyring(json.loads(json.dumps(ring.to_json())), "again")
    assert again.data_keys == ring.data_keys
    assert again.active_data_key == ring.active_data_key
    assert again.blind_index_key == ring.blind_index_key
    assert again.audit_key == ring.audit_key
    assert again.secret_key == ring.secret_key


def test_generated_keyrings_are_random_and_well_sized():
    first, second = generate_keyring(), generate_keyring()
    assert len(first.data_keys[first.active_data_key]) == 16
    assert len(first.blind_index_key) == 32 and len(first.audit_key) == 32
    assert first.data_keys != second.data_keys
    assert first.blind_index_key != second.blind_index_key
    assert first.secret_key != second.secret_key


def test_load_keyring_from_file(clean_env, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(key_data()))
    ring = load_keyring(path)
    assert ring.source == str(path)
    assert ring.secret_key == "file-secret"
    assert ring.data_keys == {"k1": b"\xaa" * 16, "k2": b"\xbb" * 16}
    assert ring.active_data_key == "k2"


def test_environment_overrides_the_key_file_secret_by_secret(clean_env, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(key_data()))
    clean_env.setenv(keyring_module.ENV_BLIND_INDEX_KEY, "ee" * 32)
    ring = load_keyring(path)
    assert ring.blind_index_key == b"\xee" * 32
    assert ring.audit_key == b"\xdd" * 32  # still from the file
    assert ring.secret_key == "file-secret"

    clean_env.setenv(keyring_module.ENV_SECRET_KEY, "env-secret")
    clean_env.setenv(keyring_module.ENV_AUDIT_KEY, "ff" * 32)
    clean_env.setenv(keyring_module.ENV_DATA_KEYS, "e1:" + "01" * 16 + ", e2:" + "02" * 16)
    clean_env.setenv(keyring_module.ENV_ACTIVE_DATA_KEY, "e1")
    ring = load_keyring(path)
    assert ring.secret_key == "env-secret"
    assert ring.audit_key == b"\xff" * 32
    assert ring.data_keys == {"e1": b"\x01" * 16, "e2": b"\x02" * 16}
    assert ring.active_data_key == "e1"


def test_environment_alone_is_enough_and_the_last_data_key_is_active(clean_env, tmp_path):
    clean_env.setenv(keyring_module.ENV_SECRET_KEY, "env-secret")
    clean_env.setenv(keyring_module.ENV_DATA_KEYS, "e1:" + "01" * 16 + ",e2:" + "02" * 16)
    clean_env.setenv(keyring_module.ENV_BLIND_INDEX_KEY, "ee" * 32)
    clean_env.setenv(keyring_module.ENV_AUDIT_KEY, "ff" * 32)
    path = tmp_path / "absent.json"
    ring = load_keyring(path, create=True)
    assert ring.source == "environment"
    assert ring.active_data_key == "e2"
    assert ring.data_keys["e2"] == b"\x02" * 16
    assert not path.exists()  # keys from the environment: no key file is created


def test_environment_data_keys_errors(clean_env, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(key_data()))
    clean_env.setenv(keyring_module.ENV_DATA_KEYS, "e1" + "01" * 16)  # no "id:" prefix
    with pytest.raises(KeyringError):
        load_keyring(path)
    clean_env.setenv(keyring_module.ENV_DATA_KEYS, "e1:" + "01" * 15)  # too short
    with pytest.raises(KeyringError):
        load_keyring(path)
    clean_env.setenv(keyring_module.ENV_DATA_KEYS, "e1:" + "01" * 16)
    clean_env.setenv(keyring_module.ENV_ACTIVE_DATA_KEY, "e9")  # active key missing
    with pytest.raises(KeyringError):
        load_keyring(path)


def test_bad_key_file_raises(clean_env, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(key_data(audit_key="xyz")))
    with pytest.raises(KeyringError):
        load_keyring(path)


def test_nothing_configured_gives_none(clean_env, tmp_path):
    path = tmp_path / "keys.json"
    assert load_keyring(path) is None
    assert not path.exists()


def test_create_writes_a_private_key_file(clean_env, tmp_path):
    path = tmp_path / "var" / "keys.json"
    ring = load_keyring(path, create=True)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.source == str(path)
    assert parse_keyring(json.loads(path.read_text()), "x").data_keys == ring.data_keys
    # A second load reads the same keys instead of generating new ones.
    assert load_keyring(path, create=True).data_keys == ring.data_keys


def test_write_key_file_mode_0600(tmp_path):
    old_umask = os.umask(0)  # even with a permissive umask the file is private
    try:
        path = tmp_path / "sub" / "keys.json"
        ring = generate_keyring()
        write_key_file(path, ring)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == ring.to_json()
    assert not path.with_suffix(".tmp").exists()


def test_write_key_file_replaces_a_world_readable_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{}")
    path.chmod(0o644)
    ring = Keyring(
        secret_key="s",
        data_keys={"k1": KEY_A},
        active_data_key="k1",
        blind_index_key=b"\x01" * 32,
        audit_key=b"\x02" * 32,
    )
    write_key_file(path, ring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_keyring(json.loads(path.read_text()), "x").data_keys == {"k1": KEY_A}


def test_write_key_file_is_private_even_with_a_stale_temporary_file(tmp_path):
    # A temporary file left behind (by an interrupted write, a restore, another tool) must not decide
    # the permissions of the new key file: "readable by its owner only" holds regardless.
    path = tmp_path / "keys.json"
    stale = path.with_suffix(".tmp")
    stale.write_text("stale")
    stale.chmod(0o644)
    ring = generate_keyring()
    write_key_file(path, ring)
    assert json.loads(path.read_text()) == ring.to_json()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
