"""The `jindu` command end to end, in subprocesses on a fresh embedded installation (SQLite under a
temporary JINDU_VAR_DIR), as `make demo` runs it."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Every command here runs on its own fresh SQLite installation (clean_env drops DATABASE_URL).
pytestmark = [pytest.mark.slow, pytest.mark.embedded]


def clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no test keys, no database URL, a new var directory."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("JINDU_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(JINDU_VAR_DIR=str(var_dir), **extra)
    return env


def jindu(var_dir: Path, *args: str, env_extra: dict | None = None, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "jindu", *args],
        env=clean_env(var_dir, **(env_extra or {})),
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("demo-var")
    result = jindu(var_dir, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    return var_dir


def test_demo_sets_up_keys_credentials_and_the_city(demo_dir):
    keys = demo_dir / "keys.json"
    assert keys.is_file() and (keys.stat().st_mode & 0o777) == 0o600
    credentials = (demo_dir / "demo-credentials.txt").read_text(encoding="utf-8")
    for username in (
        "sysadmin",
        "secadmin",
        "auditadmin",
        "city",
        "haishu",
        "worker",
        "police",
        "enterprise",
        "school",
        "lab",
    ):
        assert f"\n{username} " in credentials, username
    assert "otpauth://totp/" in credentials
    database = sqlite3.connect(demo_dir / "jindu.sqlite3")
    districts = dict(
        database.execute("SELECT code, name FROM core_orgunit WHERE level = 'district'").fetchall()
    )
    assert districts == {
        "330203": "海曙区", "330205": "江北区", "330206": "北仑区", "330211": "镇海区", "330212": "鄞州区",
        "330213": "奉化区", "330225": "象山县", "330226": "宁海县", "330281": "余姚市", "330282": "慈溪市",
    }  # fmt: skip
    levels = dict(database.execute("SELECT level, COUNT(*) FROM core_orgunit GROUP BY level").fetchall())
    assert levels["street"] >= 80 and levels["community"] >= 400 and levels["grid"] >= 2000
    nested = database.execute(
        "SELECT COUNT(*) FROM core_orgunit c JOIN core_orgunit p ON c.parent_id = p.id "
        "WHERE c.level = 'grid' AND p.level = 'grid'"
    ).fetchone()[0]
    assert nested > 0  # 500-household grids hold 50-household grids
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    database.close()


def test_demo_holds_precursor_firms_with_a_year_of_ledgers(demo_dir):
    database = sqlite3.connect(demo_dir / "jindu.sqlite3")
    firms = database.execute("SELECT COUNT(*) FROM precursors_enterprise").fetchone()[0]
    assert firms == 300
    # The demo firm account acts for a registered firm.
    assert (
        database.execute(
            "SELECT COUNT(*) FROM precursors_enterprise e JOIN core_user u ON u.enterprise_code = e.uscc "
            "WHERE u.username = 'enterprise'"
        ).fetchone()[0]
        == 1
    )
    months = database.execute(
        "SELECT COUNT(DISTINCT strftime('%Y-%m', event_time)) FROM precursors_epcisevent"
    ).fetchone()[0]
    assert months >= 12
    terms = dict(
        database.execute("SELECT balance_term, COUNT(*) FROM precursors_epcisquantity GROUP BY balance_term")
    )
    assert terms["receipt"] > 1000 and terms["stocktake"] == 300 * 12 and terms["production"] > 0
    # The planted cases are found (a leak, a theft, a cash sale, a missing receipt, company shopping), every
    # firm is rated, and the replayed nightly runs raised nothing else.
    rules = dict(
        database.execute(
            "SELECT rule, COUNT(*) FROM precursors_diversionwarning "
            "WHERE dedup_key NOT LIKE 'A11:annual-report:%' GROUP BY rule"
        )
    )
    assert {"A03", "A07", "A08", "A09", "A12"} <= set(rules) and sum(rules.values()) < 60
    # Last year's annual reports: one warning for each report filed late (after its deadline, Beijing time) and
    # for each firm with ledger activity that year and no report once the deadline passed (before it, neither).
    [year] = [row[0] for row in database.execute("SELECT DISTINCT year FROM precursors_annualreport")]
    late = database.execute(
        "SELECT COUNT(*) FROM precursors_annualreport WHERE date(submitted_at, '+8 hours') > due_on"
    ).fetchone()[0]
    deadline_passed = database.execute(
        "SELECT date('now', '+8 hours') > MAX(due_on) FROM precursors_annualreport"
    ).fetchone()[0]
    missing = database.execute(
        "SELECT COUNT(*) FROM precursors_enterprise e WHERE NOT EXISTS (SELECT 1 FROM precursors_annualreport r "
        "WHERE r.enterprise_id = e.id AND r.year = ?) AND EXISTS (SELECT 1 FROM precursors_epcisevent v WHERE "
        "v.enterprise_id = e.id AND strftime('%Y', v.event_time, '+8 hours') = ?)",
        (year, str(year)),
    ).fetchone()[0]
    annual = database.execute(
        "SELECT COUNT(*) FROM precursors_diversionwarning WHERE dedup_key LIKE 'A11:annual-report:%'"
    ).fetchone()[0]
    if deadline_passed:
        assert late > 0 and missing > 0 and annual == late + missing and annual < 300 // 5
    else:  # the late and missing firms are still due
        assert late == 0 and annual == 0
    assert (
        database.execute("SELECT COUNT(DISTINCT enterprise_id) FROM precursors_creditrating").fetchone()[0]
        == 300
    )
    database.close()


def test_demo_holds_wastewater_sites_with_three_years_of_results(demo_dir):
    database = sqlite3.connect(demo_dir / "jindu.sqlite3")
    assert database.execute("SELECT COUNT(*) FROM wastewater_samplingsite").fetchone()[0] == 18
    samples, first, last = database.execute(
        "SELECT COUNT(*), julianday(MIN(end_date)), julianday(MAX(end_date)) FROM wastewater_wastewatersample"
    ).fetchone()
    assert samples == 18 * 1095 and last - first == 1094
    measurements = database.execute("SELECT COUNT(*) FROM wastewater_measurement").fetchone()[0]
    assert measurements == samples * 13
    # Every measurement has its result; the handful blocked by QA are the planted ones.
    statuses = dict(database.execute("SELECT status, COUNT(*) FROM wastewater_analyteresult GROUP BY status"))
    assert sum(statuses.values()) == measurements and statuses["qa_failed"] == 12
    assert statuses["computed"] > 0.7 * measurements and statuses["below_loq"] > 0
    database.close()


def plaintexts_in(raw: bytes, values: list[str]) -> list[str]:
    """The values that occur in ``raw``, in one pass over it rather than one per value (a minute for the demo's
    250 MB): a value made only of ID characters (digits, X) or only of non-ASCII bytes (the UTF-8 of Chinese
    names) occurs in the file exactly when it occurs in one of the file's maximal runs of that kind of byte,
    and the distinct runs are few. Other values are looked up in the file itself."""
    kinds = (rb"[0-9Xx]", rb"[\x80-\xff]")
    grouped: dict[bytes, list[str]] = {kind: [] for kind in kinds}
    found = []
    for value in values:
        kind = next((kind for kind in kinds if re.fullmatch(kind + rb"+", value.encode())), None)
        if kind is not None:
            grouped[kind].append(value)
        elif value.encode() in raw:
            found.append(value)
    for kind, members in grouped.items():
        if members:
            shortest = min(len(value.encode()) for value in members)
            runs = b"\n".join(set(re.findall(kind + b"{%d,}" % shortest, raw)))
            found += [value for value in members if value.encode() in runs]
    return found


def test_plaintexts_in_finds_what_a_plain_search_finds():
    raw = (
        b"sm4gcm:QUJD110101199001011234\x00" + "张三".encode() + b"abc" + "李四·王".encode() + b"13800138000x"
    )
    values = [
        "110101199001011234",
        "张三",
        "李四",
        "四·王",
        "王五",
        "13800138000",
        "abc",
        "138001380001",
        "QUJD",
    ]
    assert sorted(plaintexts_in(raw, values)) == sorted(v for v in values if v.encode() in raw)
    assert set(plaintexts_in(raw, values)) == {
        "110101199001011234",
        "张三",
        "李四",
        "四·王",
        "13800138000",
        "abc",
        "QUJD",
    }


def test_demo_database_holds_no_plaintext_identifiers(demo_dir):
    script = (
        "import json, django; django.setup();"
        "from jindu.core.models import User; from jindu.people.models import Person;"
        "print(json.dumps([[u.id_number, u.phone] for u in User.objects.all()]"
        " + [[p.id_number, p.phone, p.name] for p in Person.objects.all()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(demo_dir, DJANGO_SETTINGS_MODULE="jindu.config.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pairs = json.loads(result.stdout)
    plaintexts = [value for pair in pairs for value in pair if value]
    assert len(pairs) >= 5000 and len(plaintexts) >= 2 * 5000  # the demo accounts and every demo person
    raw = b"".join(path.read_bytes() for path in demo_dir.iterdir() if path.name.startswith("jindu.sqlite3"))
    assert b"sm4gcm:" in raw  # the scan reads the real data
    # SQLite stores text as UTF-8 here, so the UTF-8 bytes are what a leak would look like. (UTF-16 forms
    # of two-character names are four ASCII-range bytes, which random base64 ciphertext contains by chance.)
    database = sqlite3.connect(demo_dir / "jindu.sqlite3")
    assert database.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
    database.close()
    leaked = plaintexts_in(raw, plaintexts)
    assert not leaked, f"{len(leaked)} plaintexts found in the database file, e.g. {leaked[0][:1]}…"
    credentials = (demo_dir / "demo-credentials.txt").read_text(encoding="utf-8")
    assert not any(value in credentials for value in plaintexts)


def test_demo_twice_keeps_the_data(demo_dir):
    result = jindu(demo_dir, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stdout


def test_audit_verify_detects_a_raw_edit(tmp_path, demo_dir):
    result = jindu(demo_dir, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
    copy = tmp_path / "copy"
    copy.mkdir()
    source = sqlite3.connect(demo_dir / "jindu.sqlite3")
    target = sqlite3.connect(copy / "jindu.sqlite3")
    source.backup(target)
    source.close()
    (copy / "keys.json").write_bytes((demo_dir / "keys.json").read_bytes())
    target.execute("UPDATE core_auditrecord SET object_repr = 'forged' WHERE sequence = 5")
    target.commit()
    target.close()
    result = jindu(copy, "audit", "verify")
    assert result.returncode == 1
    assert "#5" in result.stderr


def test_createuser_and_bad_input(demo_dir):
    ok = jindu(
        demo_dir, "createuser", "cli_worker", "--role", "social_worker", "--org-unit", "330203001",
        env_extra={"JINDU_PASSWORD": "a-long-enough-password-1"},
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "created user cli_worker" in ok.stdout
    police = jindu(
        demo_dir, "createuser", "cli_police", "--role", "police", "--org-unit", "330203", "--search-scope", "330200",
        env_extra={"JINDU_PASSWORD": "a-long-enough-password-1"},
    )  # fmt: skip
    assert police.returncode == 0 and "otpauth://" in police.stdout
    bad_role = jindu(
        demo_dir, "createuser", "x_user", "--role", "king", "--org-unit", "330203",
        env_extra={"JINDU_PASSWORD": "a-long-enough-password-1"},
    )  # fmt: skip
    assert bad_role.returncode == 2 and "Unknown role" in bad_role.stderr
    no_password = jindu(demo_dir, "createuser", "y_user", "--role", "lab", "--org-unit", "330200", stdin="")
    assert no_password.returncode == 2 and "JINDU_PASSWORD" in no_password.stderr
    both_admins = jindu(
        demo_dir, "createuser", "z_user", "--role", "sysadmin", "--role", "auditadmin", "--org-unit", "330200",
        env_extra={"JINDU_PASSWORD": "a-long-enough-password-1"},
    )  # fmt: skip
    assert both_admins.returncode == 2 and "三权分立" in both_admins.stderr


def test_import_orgunits_command(tmp_path, demo_dir):
    good = tmp_path / "good.csv"
    good.write_text(
        "code,name,level,parent_code\n330203001099,新建社区,community,330203001\n", encoding="utf-8"
    )
    result = jindu(demo_dir, "import", "orgunits", str(good))
    assert result.returncode == 0, result.stderr
    assert "1 created" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n12,坏,street,330203\n", encoding="utf-8")
    result = jindu(demo_dir, "import", "orgunits", str(bad))
    assert result.returncode == 2 and "line 2" in result.stderr and "nothing was imported" in result.stderr
    missing = jindu(demo_dir, "import", "orgunits", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_keys_rotate_reencrypts_everything(tmp_path, demo_dir):
    copy = tmp_path / "rot"
    copy.mkdir()
    source = sqlite3.connect(demo_dir / "jindu.sqlite3")
    target = sqlite3.connect(copy / "jindu.sqlite3")
    source.backup(target)
    source.close()
    target.close()
    (copy / "keys.json").write_bytes((demo_dir / "keys.json").read_bytes())
    result = jindu(copy, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    assert "active data key is now k2" in result.stdout
    status = jindu(copy, "keys", "status")
    assert "k2:" in status.stdout and "k1:" not in status.stdout
    database = sqlite3.connect(copy / "jindu.sqlite3")
    phones = [row[0] for row in database.execute("SELECT phone FROM core_user WHERE phone <> ''")]
    assert phones and all(value.startswith("sm4gcm:k2:") for value in phones)
    database.close()
    assert jindu(copy, "audit", "verify").returncode == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_serves_the_login_page(demo_dir):
    """`jindu demo` ends by serving; on the module's installation, which holds the demo already, it serves at once
    (generating the whole demo a second time took longer than the wait below on a busy machine)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "jindu", "demo", "--port", str(port)],
        env=clean_env(demo_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    assert response.status == 200
                    body = response.read().decode()
                    break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"jindu demo exited early: {process.stdout.read()}")
                time.sleep(0.5)
        assert 'name="password"' in body
        assert 'lang="zh-hans"' in body
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/vendor/echarts/echarts.min.js"
        ) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
            assert json.loads(response.read())["database"]["ok"] is True
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_keys_init_writes_once_and_never_overwrites(tmp_path):
    first = jindu(tmp_path, "keys", "init")
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "keys.json"
    content = key_file.read_bytes()
    assert (key_file.stat().st_mode & 0o777) == 0o600
    again = jindu(tmp_path, "keys", "init")
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert key_file.read_bytes() == content


def test_commands_on_a_server_database_without_keys_fail_clearly(tmp_path):
    result = jindu(
        tmp_path, "audit", "verify", env_extra={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/nokeys"}
    )
    assert result.returncode == 2
    assert "keys not found" in result.stderr and "jindu keys init" in result.stderr


def test_worker_without_a_broker_is_refused(tmp_path):
    result = jindu(tmp_path, "worker", "--concurrency", "2")
    assert result.returncode == 2 and "JINDU_BROKER_URL" in result.stderr
