"""Reading messy import files and checking their rows (nothing running)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailer.errors import InvalidInput
from mailer.imports.read import FIELD, ReadOptions, SourceFormat, open_import
from mailer.imports.rows import Intent, Rules, normalise_rows, parse_time, split_topics

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def values(path: Path, **options: object) -> list[tuple[int, dict[str, object]]]:
    with open_import(path, ReadOptions(**options)) as source:  # type: ignore[arg-type]
        return [
            (
                r.line,
                {f: r.values[i] for f, i in FIELD.items() if r.values} | {"problem": r.problem},
            )
            for r in source.records()
        ]


def test_mailchimp_export_with_bom_crlf_and_semicolons(tmp_path: Path) -> None:
    data = (
        '\ufeff"Email Address";"First Name";"Last Name";OPTIN_TIME;CONFIRM_TIME;CONFIRM_IP;TAGS\r\n'
        'zoe@example.org;Zoë;"Smith; Jr";2020-01-02 10:00:00;2020-01-02 10:05:00;'
        '203.0.113.9;"""Overdose Prevention"",""Tobacco"""\r\n'
        "\r\n"
        'ann@example.org;"Ann ""The Editor""";Lee;;;;\r\n'
    ).encode()
    path = write(tmp_path, "subscribed_members_export.csv", data)
    with open_import(path) as source:
        assert source.delimiter == ";"
        assert source.headers[0] == "Email Address"  # the BOM is gone
        records = list(source.records())
    assert [r.line for r in records] == [2, 4]  # the blank line is skipped, numbers kept
    first = records[0].values
    assert first[FIELD["email"]] == "zoe@example.org"
    assert first[FIELD["last_name"]] == "Smith; Jr"
    assert first[FIELD["consent_at"]] == "2020-01-02 10:05:00"
    assert first[FIELD["optin_at"]] == "2020-01-02 10:00:00"
    assert first[FIELD["ip"]] == "203.0.113.9"
    assert split_topics(first[FIELD["topics"]]) == ("Overdose Prevention", "Tobacco")
    assert records[1].values[FIELD["first_name"]] == 'Ann "The Editor"'
    assert records[1].values[FIELD["topics"]] == ""  # the column exists: "" is "no topics"


def test_quoted_commas_and_multiline_cells(tmp_path: Path) -> None:
    data = b'email,name,topics\n"a@example.org","Lee, Ann","x, y"\nb@example.org,"Two\nLines",z\n'
    path = write(tmp_path, "list.csv", data)
    rows = values(path)
    assert rows[0] == (2, rows[0][1]) and rows[0][1]["name"] == "Lee, Ann"
    assert rows[1][0] == 3  # a record's first line, even when it spans two
    assert rows[1][1]["topics"] == "z"


def test_listmonk_export_columns_and_go_times(tmp_path: Path) -> None:
    data = (
        b"uuid,email,name,attributes,status,created_at,updated_at\n"
        b'5e1e...,b@example.org,Bo,"{""city"": ""Oslo""}",blocklisted,'
        b"2024-01-15 10:30:00.123456789 +0530 IST,2024-01-15 10:30:00 +0000 UTC\n"
    )
    path = write(tmp_path, "subscribers.csv", data)
    _, row = values(path)[0]
    assert row["status"] == "blocklisted"
    assert row["created_at"] == "2024-01-15 10:30:00.123456789 +0530 IST"
    parsed = parse_time(str(row["created_at"]))
    assert parsed == datetime(2024, 1, 15, 5, 0, 0, 123456, tzinfo=UTC)


def test_tab_separated_utf16_from_excel(tmp_path: Path) -> None:
    data = "Email\tName\nzoe@example.org\tZoë\n".encode("utf-16")
    path = write(tmp_path, "list.txt", data)
    with open_import(path) as source:
        assert source.delimiter == "\t"
        assert source.encoding == "utf-16"
        assert [r.values[FIELD["name"]] for r in source.records()] == ["Zoë"]


def test_jsonl_with_lists_and_bad_lines(tmp_path: Path) -> None:
    data = (
        b'{"email": "a@example.org", "name": "A", "topics": ["x", "y"], "attributes": {"k": 1}}\n'
        b"not json\n"
        b"\n"
        b'["an", "array"]\n'
        b'{"Email Address": "b@example.org", "status": "unsubscribed"}\n'
    )
    path = write(tmp_path, "people.jsonl", data)
    rows = values(path)
    assert rows[0][1]["topics"] == ["x", "y"]
    assert rows[1][0] == 2 and rows[1][1]["problem"][0] == "invalid_json"  # type: ignore[index]
    assert rows[2][0] == 4 and rows[2][1]["problem"][0] == "invalid_json"  # type: ignore[index]
    assert rows[3][1]["email"] == "b@example.org"
    assert rows[3][1]["topics"] is None  # no key: nothing said about topics


def test_column_overrides_and_precise_header_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", b"Correo;Who;Labels\nz@example.org;Zoe;a\n")
    with pytest.raises(InvalidInput) as missing:
        open_import(path)
    assert "no address column" in str(missing.value)
    assert "'Correo', 'Who', 'Labels'" in missing.value.fields["columns"]
    rows = values(path, columns={"email": "Correo", "name": "who", "topics": "Labels"})
    assert rows[0][1]["email"] == "z@example.org" and rows[0][1]["topics"] == "a"
    with pytest.raises(InvalidInput, match="no column 'Nope'"):
        open_import(path, ReadOptions(columns={"email": "Nope"}))
    with pytest.raises(InvalidInput, match="unknown field 'phone'"):
        open_import(path, ReadOptions(columns={"phone": "Correo"}))
    tags = write(tmp_path, "tags.csv", b"email,TAGS\nz@example.org,VIP\n")
    assert values(tags, columns={"topics": None})[0][1]["topics"] is None


def test_unreadable_files_fail_with_one_clear_reason(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        open_import(write(tmp_path, "empty.csv", b"\n\n"))
    latin = write(tmp_path, "latin.csv", "email,name\nz@example.org,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not valid utf-8 near line"):
        values(latin)
    assert values(latin, encoding="cp1252")[0][1]["name"] == "Zoë"
    with pytest.raises(InvalidInput, match="unknown encoding"):
        open_import(latin, ReadOptions(encoding="klingon"))
    with pytest.raises(InvalidInput, match="invalid delimiter"):
        open_import(latin, ReadOptions(delimiter=";;", encoding="cp1252"))
    with pytest.raises(InvalidInput, match="no file"):
        open_import(tmp_path / "missing.csv")


def test_a_row_wider_than_its_header_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "wide.csv", b"email,name\na@example.org,A,extra\nb@example.org,B,\nc@x.org\n"
    )
    rows = values(path)
    assert rows[0][1]["problem"][0] == "too_many_cells"  # type: ignore[index]
    assert rows[1][1]["name"] == "B"  # an empty extra cell is harmless
    assert rows[2][1]["name"] == ""  # a short row: the missing cells are empty


def test_format_by_name_or_content(tmp_path: Path) -> None:
    with open_import(write(tmp_path, "export", b'{"email": "a@example.org"}\n')) as source:
        assert source.format is SourceFormat.JSONL
    with open_import(write(tmp_path, "x.ndjson", b'{"email": "a@example.org"}\n')) as source:
        assert source.format is SourceFormat.JSONL


def record(**fields: object) -> tuple[object, ...]:
    return tuple(fields.get(name) for name in FIELD)


def test_row_checks_name_each_problem() -> None:
    rules = Rules(consented=True, now=NOW)
    rows, rejects = normalise_rows(
        rules,
        [
            (2, record(email=" Zoe@Example.ORG ", first_name="Zoë", last_name="Smith")),
            (3, record(email="")),
            (4, record(email="not-an-address")),
            (5, record(email="a@example.org", name="<script>")),
            (6, record(email="b@example.org", consent_at="03/21/2019")),
            (7, record(email="c@example.org", status="pending")),
            (8, record(email="d@example.org", status="erased")),
            (9, record(email="e@example.org", status="vip")),
            (10, record(email="f@example.org", consent_at="2030-01-01")),
            (11, record(email="'=g@example.org", name="'=SUM(A1)", ip="not-an-ip")),
        ],
    )
    assert [(r.line, r.key) for r in rejects] == [
        (3, "missing_address"),
        (4, "invalid_address"),
        (5, "invalid_name"),
        (6, "invalid_date"),
        (7, "not_confirmed"),
        (8, "erased"),
        (9, "invalid_status"),
        (10, "invalid_date"),
    ]
    assert "@-sign" in rejects[1].message
    zoe, guarded = rows
    assert (zoe.email, zoe.email_key, zoe.name) == (
        "Zoe@example.org",
        "zoe@example.org",
        "Zoë Smith",
    )
    assert zoe.intent == Intent.SUBSCRIBE and zoe.topics is None
    assert (guarded.email, guarded.name, guarded.ip) == ("=g@example.org", "=SUM(A1)", None)


def test_status_words_and_mailchimp_times_decide_the_intent() -> None:
    rules = Rules(consented=False, now=NOW)
    rows, rejects = normalise_rows(
        rules,
        [
            (2, record(email="a@example.org", status="Subscribed")),
            (3, record(email="b@example.org", status="pending")),
            (4, record(email="c@example.org", status="disabled")),
            (5, record(email="d@example.org", status="cleaned")),
            (6, record(email="e@example.org", status="complained")),
            (7, record(email="f@example.org", status="blocklisted")),
            (8, record(email="g@example.org", unsubscribed_at="2022-02-02 10:00:00")),
            (9, record(email="h@example.org", cleaned_at="2022-02-02")),
            (
                10,
                record(
                    email="i@example.org", optin_at="2019-05-05T10:00:00Z", optin_ip="2001:db8::1"
                ),
            ),
        ],
    )
    assert not rejects
    assert [(r.intent, r.suppress_reason) for r in rows] == [
        ("subscribe", None),
        ("pending", None),
        ("unsubscribe", None),
        ("suppress", "hard_bounce"),
        ("suppress", "complaint"),
        ("suppress", "manual"),
        ("unsubscribe", None),
        ("suppress", "hard_bounce"),
        ("subscribe", None),
    ]
    assert rows[6].unsubscribed_at == datetime(2022, 2, 2, 10, tzinfo=UTC)
    last = rows[-1]
    assert last.consent_at == last.created_at == datetime(2019, 5, 5, 10, tzinfo=UTC)
    assert last.ip == "2001:db8::1"


def test_topic_cells_in_every_usual_spelling() -> None:
    assert split_topics("a, b ,a") == ("a", "b")
    assert split_topics('"Overdose  Prevention","Tobacco"') == ("Overdose Prevention", "Tobacco")
    assert split_topics("a;b|c") == ("a", "b", "c")
    assert split_topics("") == ()
    assert split_topics(None) is None
    assert split_topics(["x", "y"]) == ("x", "y")
