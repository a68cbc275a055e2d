"""Encrypted model fields, blind indexes and data-key rotation, checked against the raw column values."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import connection

from jindu.core.crypto import DecryptionError
from jindu.core.errors import ServiceError
from jindu.core.fields import blind_index, is_ciphertext
from jindu.core.keys import key_usage, keys_rotate
from jindu.core.models import User
from jindu.core.roles import Role
from jindu.core.testing.helpers import make_user
from jindu.core.testing.sampleapp.models import ProtectedRecord

pytestmark = pytest.mark.django_db

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CONTEXT = "sampleapp.protectedrecord.id_number"
ID_NUMBER = "11010519491231002X"  # GB 11643 published example


def valid_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def raw_values(model, pk, *attnames) -> tuple:
    """The stored column values of one row, read with raw SQL (no field conversion)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in attnames)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()


def raw_update(model, pk, sql_assignment: str, params=()) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {sql_assignment} WHERE {quote(model._meta.pk.column)} = %s",  # noqa: S608
            [*params, pk],
        )


def reference_blind_index(context: str, normalised: str) -> str:
    """HMAC-SM3 (Python's hmac over OpenSSL's SM3) of ``context|value`` with the configured blind key."""
    key = settings.JINDU_KEYRING.blind_index_key
    return hmac.new(key, f"{context}|{normalised}".encode(), lambda: hashlib.new("sm3")).hexdigest()


@pytest.fixture
def record(tree):
    return ProtectedRecord.objects.create(org_unit=tree["community_a"], name="欧阳小明", id_number=ID_NUMBER)


# Encryption at rest ---------------------------------------------------------------------------------


def test_raw_column_is_ciphertext_without_the_plaintext(record):
    raw_name, raw_id = raw_values(ProtectedRecord, record.pk, "name", "id_number")
    for raw, plain in ((raw_name, "欧阳小明"), (raw_id, ID_NUMBER)):
        assert raw.startswith("sm4gcm:")
        assert raw.startswith(f"sm4gcm:{settings.JINDU_KEYRING.active_data_key}:")
        assert plain not in raw
        assert is_ciphertext(raw)
    assert ID_NUMBER not in raw_id and "19491231" not in raw_id
    assert raw_name != raw_id


def test_loading_decrypts(record):
    loaded = ProtectedRecord.objects.get(pk=record.pk)
    assert loaded.name == "欧阳小明"
    assert loaded.id_number == ID_NUMBER
    assert list(ProtectedRecord.objects.filter(pk=record.pk).values_list("name", "id_number")) == [
        ("欧阳小明", ID_NUMBER)
    ]


def test_same_value_encrypts_differently_each_time(tree):
    first = ProtectedRecord.objects.create(org_unit=tree["community_a"], name="张三", id_number=ID_NUMBER)
    second = ProtectedRecord.objects.create(org_unit=tree["community_a"], name="张三", id_number=ID_NUMBER)
    assert raw_values(ProtectedRecord, first.pk, "id_number") != raw_values(
        ProtectedRecord, second.pk, "id_number"
    )
    assert raw_values(ProtectedRecord, first.pk, "name") != raw_values(ProtectedRecord, second.pk, "name")
    # ... while their blind indexes are equal.
    assert first.id_number_index == second.id_number_index


def test_empty_value_is_stored_empty(tree):
    empty = ProtectedRecord.objects.create(org_unit=tree["community_a"], name="李四", id_number="")
    raw_id, raw_index = raw_values(ProtectedRecord, empty.pk, "id_number", "id_number_index")
    assert raw_id == ""
    assert raw_index == ""
    assert ProtectedRecord.objects.get(pk=empty.pk).id_number == ""
    assert is_ciphertext(raw_values(ProtectedRecord, empty.pk, "name")[0])


def test_updating_reencrypts_and_recomputes_the_index(record):
    old_raw = raw_values(ProtectedRecord, record.pk, "id_number")[0]
    new_number = valid_id("33020319900101123")
    record.id_number = new_number
    record.save()
    new_raw, new_index = raw_values(ProtectedRecord, record.pk, "id_number", "id_number_index")
    assert new_raw != old_raw and new_number not in new_raw
    assert ProtectedRecord.objects.get(pk=record.pk).id_number == new_number
    assert new_index == reference_blind_index(ID_CONTEXT, new_number)
    assert not ProtectedRecord.objects.filter(
        id_number_index=blind_index(ID_NUMBER, context=ID_CONTEXT)
    ).exists()


def test_save_with_update_fields_keeps_the_blind_index_in_sync(record):
    # The index is documented as "recomputed on every save": saving only the source field must not
    # leave the index pointing at the old value (the row would be found by a number it no longer has).
    new_number = valid_id("33020319900101123")
    record.id_number = new_number
    record.save(update_fields=["id_number"])
    assert ProtectedRecord.objects.get(pk=record.pk).id_number == new_number
    (raw_index,) = raw_values(ProtectedRecord, record.pk, "id_number_index")
    assert raw_index == reference_blind_index(ID_CONTEXT, new_number)
    assert list(
        ProtectedRecord.objects.filter(id_number_index=blind_index(new_number, context=ID_CONTEXT))
    ) == [record]
    assert not ProtectedRecord.objects.filter(
        id_number_index=blind_index(ID_NUMBER, context=ID_CONTEXT)
    ).exists()


# Blind index ----------------------------------------------------------------------------------------


def test_blind_index_finds_the_record(record, tree):
    ProtectedRecord.objects.create(
        org_unit=tree["community_a"], name="其他", id_number=valid_id("33020319900101123")
    )
    found = ProtectedRecord.objects.filter(id_number_index=blind_index(ID_NUMBER, context=ID_CONTEXT))
    assert list(found) == [record]


def test_blind_index_value_is_hmac_sm3_of_context_and_normalised_value(record):
    (raw_index,) = raw_values(ProtectedRecord, record.pk, "id_number_index")
    assert raw_index == reference_blind_index(ID_CONTEXT, ID_NUMBER)
    assert len(raw_index) == 64
    assert ID_NUMBER not in raw_index


@pytest.mark.parametrize(
    "variant", ["11010519491231002x", " 110105 19491231 002X ", "110105\t19491231002x", ID_NUMBER]
)
def test_blind_index_normalises_spaces_and_case(record, variant):
    found = ProtectedRecord.objects.filter(id_number_index=blind_index(variant, context=ID_CONTEXT))
    assert list(found) == [record]


def test_record_saved_with_lower_case_x_is_found_with_upper_case(tree):
    stored = ProtectedRecord.objects.create(
        org_unit=tree["community_a"], name="王五", id_number="11010519491231002x"
    )
    found = ProtectedRecord.objects.filter(id_number_index=blind_index(ID_NUMBER, context=ID_CONTEXT))
    assert list(found) == [stored]


def test_blind_index_does_not_match_other_values_or_contexts(record):
    assert not ProtectedRecord.objects.filter(
        id_number_index=blind_index("110105194912310021", context=ID_CONTEXT)
    ).exists()
    other_context = blind_index(ID_NUMBER, context="core.user.id_number")
    assert other_context != record.id_number_index
    assert not ProtectedRecord.objects.filter(id_number_index=other_context).exists()
    assert blind_index("", context=ID_CONTEXT) == ""


@pytest.mark.parametrize("lookup", ["", "__exact", "__iexact", "__contains", "__startswith", "__in"])
def test_filtering_on_the_encrypted_field_raises(record, lookup):
    value = [ID_NUMBER] if lookup == "__in" else ID_NUMBER
    with pytest.raises(FieldError):
        list(ProtectedRecord.objects.filter(**{f"id_number{lookup}": value}))


def test_isnull_on_the_encrypted_field_is_allowed(record):
    assert list(ProtectedRecord.objects.filter(id_number__isnull=False)) == [record]


# Associated data binds a ciphertext to its column ----------------------------------------------------


def test_ciphertext_copied_into_another_column_does_not_decrypt(record):
    quote = connection.ops.quote_name
    raw_update(ProtectedRecord, record.pk, f"{quote('name')} = {quote('id_number')}")
    raw_name, raw_id = raw_values(ProtectedRecord, record.pk, "name", "id_number")
    assert raw_name == raw_id  # the copy happened
    with pytest.raises(DecryptionError):
        ProtectedRecord.objects.get(pk=record.pk)


def test_ciphertext_copied_into_another_table_does_not_decrypt(record, tree):
    user = make_user(
        "t_copy_target", Role.SOCIAL_WORKER, "330203001001", id_number=valid_id("33020319900101123")
    )
    (raw_id,) = raw_values(ProtectedRecord, record.pk, "id_number")
    raw_update(User, user.pk, f"{connection.ops.quote_name('id_number')} = %s", [raw_id])
    with pytest.raises(DecryptionError):
        User.objects.get(pk=user.pk)


def test_tampered_column_does_not_decrypt(record):
    (raw_id,) = raw_values(ProtectedRecord, record.pk, "id_number")
    prefix, key_id, blob = raw_id.split(":", 2)
    flipped = blob[:20] + ("A" if blob[20] != "A" else "B") + blob[21:]
    raw_update(
        ProtectedRecord,
        record.pk,
        f"{connection.ops.quote_name('id_number')} = %s",
        [f"{prefix}:{key_id}:{flipped}"],
    )
    with pytest.raises(DecryptionError):
        ProtectedRecord.objects.get(pk=record.pk)


# Users -----------------------------------------------------------------------------------------------


def test_user_phone_and_id_number_are_encrypted(tree):
    id_number = valid_id("33020319850615002")
    user = make_user(
        "t_encrypted", Role.SOCIAL_WORKER, "330203001001", phone="13812345678", id_number=id_number
    )
    raw_phone, raw_id, phone_index, id_index = raw_values(
        User, user.pk, "phone", "id_number", "phone_index", "id_number_index"
    )
    assert raw_phone.startswith("sm4gcm:") and "13812345678" not in raw_phone
    assert raw_id.startswith("sm4gcm:") and id_number not in raw_id
    assert phone_index == reference_blind_index("core.user.phone", "13812345678")
    assert id_index == reference_blind_index("core.user.id_number", id_number)

    loaded = User.objects.get(pk=user.pk)
    assert loaded.phone == "13812345678"
    assert loaded.id_number == id_number
    assert loaded.phone_masked == "138****5678"
    assert loaded.id_number_masked == id_number[:6] + "********" + id_number[-4:]

    assert list(User.objects.filter(phone_index=blind_index("13812345678", context="core.user.phone"))) == [
        user
    ]
    assert list(
        User.objects.filter(id_number_index=blind_index(id_number.lower(), context="core.user.id_number"))
    ) == [user]
    with pytest.raises(FieldError):
        list(User.objects.filter(phone="13812345678"))


def test_user_phone_is_normalised_before_encryption(tree):
    user = make_user("t_normalised", Role.SOCIAL_WORKER, "330203001001", phone="+86 138-1234-5678")
    assert User.objects.get(pk=user.pk).phone == "13812345678"
    assert list(User.objects.filter(phone_index=blind_index("13812345678", context="core.user.phone"))) == [
        user
    ]


# Key rotation ----------------------------------------------------------------------------------------


@pytest.fixture
def rotation_env(monkeypatch):
    """Keys from a key file instead of the environment; the settings keyring is restored afterwards."""
    monkeypatch.setattr(settings, "JINDU_KEYRING", settings.JINDU_KEYRING)
    monkeypatch.delenv("JINDU_DATA_KEYS")
    return monkeypatch


@pytest.fixture
def encrypted_data(tree):
    """Encrypted values in two tables; returns (model, pk, {attname: plaintext}) for each non-empty one."""
    records = [
        ProtectedRecord.objects.create(org_unit=tree["community_a"], name="欧阳小明", id_number=ID_NUMBER),
        ProtectedRecord.objects.create(org_unit=tree["community_b"], name="张三", id_number=""),
        ProtectedRecord.objects.create(
            org_unit=tree["community_b"], name="李四", id_number=valid_id("33021319721130456")
        ),
    ]
    user = make_user(
        "t_rotation",
        Role.SOCIAL_WORKER,
        "330203001001",
        phone="13900001111",
        id_number=valid_id("33020319900101123"),
    )
    data = [(ProtectedRecord, r.pk, {"name": r.name, "id_number": r.id_number}) for r in records]
    data.append((User, user.pk, {"phone": "13900001111", "id_number": user.id_number}))
    return data


def non_empty(data) -> int:
    return sum(1 for _, _, values in data for value in values.values() if value)


def test_key_usage_counts_stored_values(encrypted_data):
    active = settings.JINDU_KEYRING.active_data_key
    assert key_usage() == {active: non_empty(encrypted_data)}
    assert non_empty(encrypted_data) == 7


def test_keys_rotate_refuses_when_keys_come_from_the_environment(encrypted_data, tmp_path):
    before = settings.JINDU_KEYRING
    with pytest.raises(ServiceError) as excinfo:
        keys_rotate(key_file=tmp_path / "keys.json")
    assert excinfo.value.code == "keys_from_environment"
    assert not (tmp_path / "keys.json").exists()
    assert settings.JINDU_KEYRING is before


def test_keys_rotate_reencrypts_everything(encrypted_data, rotation_env, tmp_path):
    old_ring = settings.JINDU_KEYRING
    old_id = old_ring.active_data_key
    key_file = tmp_path / "keys.json"

    report = keys_rotate(key_file=key_file)

    new_id = report.new_key_id
    assert new_id != old_id
    assert settings.JINDU_KEYRING.active_data_key == new_id
    assert report.values == non_empty(encrypted_data)

    for model, pk, values in encrypted_data:
        names = list(values)
        raws = raw_values(model, pk, *names)
        for name, raw in zip(names, raws, strict=True):
            if values[name]:
                assert raw.startswith(f"sm4gcm:{new_id}:"), (model, name, raw)
                assert values[name] not in raw
            else:
                assert raw == ""
        loaded = model.objects.get(pk=pk)
        for name, plain in values.items():
            assert getattr(loaded, name) == plain

    stored = json.loads(key_file.read_text())
    assert set(stored["data_keys"]) == {old_id, new_id}
    assert bytes.fromhex(stored["data_keys"][old_id]) == old_ring.data_keys[old_id]
    assert len(bytes.fromhex(stored["data_keys"][new_id])) == 16
    assert stored["data_keys"][new_id] != stored["data_keys"][old_id]
    assert stored["active_data_key"] == new_id
    assert bytes.fromhex(stored["blind_index_key"]) == old_ring.blind_index_key

    assert key_usage() == {new_id: non_empty(encrypted_data)}
    # Blind indexes do not depend on the data key.
    assert (
        ProtectedRecord.objects.filter(id_number_index=blind_index(ID_NUMBER, context=ID_CONTEXT)).count()
        == 1
    )


def test_values_are_unreadable_without_the_new_key_after_rotation(encrypted_data, rotation_env, tmp_path):
    old_ring = settings.JINDU_KEYRING
    keys_rotate(key_file=tmp_path / "keys.json")
    rotation_env.setattr(settings, "JINDU_KEYRING", old_ring)  # a server that never got the new key
    model, pk, _values = encrypted_data[0]
    with pytest.raises(DecryptionError):
        model.objects.get(pk=pk)


def test_rotating_twice_keeps_every_key(encrypted_data, rotation_env, tmp_path):
    key_file = tmp_path / "keys.json"
    first = keys_rotate(key_file=key_file).new_key_id
    second = keys_rotate(key_file=key_file).new_key_id
    assert len({first, second}) == 2
    stored = json.loads(key_file.read_text())
    assert {first, second} < set(stored["data_keys"])
    assert len(stored["data_keys"]) == 3
    assert key_usage() == {second: non_empty(encrypted_data)}
    for model, pk, values in encrypted_data:
        loaded = model.objects.get(pk=pk)
        assert {name: getattr(loaded, name) for name in values} == values
