"""Free-text masking and dead-letter scrubbing (domain.privacy): many written forms."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import pytest

from domain.privacy import REMOVED, mask_name, mask_text, scrub_payload

SECRET = "feed-token-0123456789abcdef"


@pytest.mark.parametrize(("text", "masked"), [
    ("call 13812345678 now", "call 138****5678 now"),
    ("电话：138-1234-5678。", "电话：138****5678。"),
    ("电话 138 1234 5678", "电话 138****5678"),
    ("+86 138 1234 5678", "138****5678"),
    ("+86-138-1234-5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ("８６１３８１２３４５６７８", "138****5678"),
    ("１３８１２３４５６７８", "138****5678"),
    ("座机(010)12345678", "座机010****5678"),
    ("010-1234-5678", "010****5678"),
    ("0531-88889999", "053*****9999"),
    ("身份证370102199001011234号", "身份证3701************34号"),
    ("ID 37010219900101123X", "ID 3701************3X"),
    ("ID 37010219900101123x.", "ID 3701************3x."),
    ("370102 19900101 1234", "3701************34"),
    ("370102-19900101-1234", "3701************34"),
    ("old id 370102900101123", "old id 3701*********23"),
    ("mail zhang.san@example.com.cn please", "mail z***@example.com.cn please"),
    ("邮箱ZS+tag@mail.qq.com", "邮箱Z***@mail.qq.com"),
    ("13812345678@qq.com", "1***@qq.com"),
    ("张三 13812345678，身份证 370102199001011234，邮箱 a@b.cn",
     "张三 138****5678，身份证 3701************34，邮箱 a***@b.cn"),
])
def test_personal_patterns_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "价格1380元", "房号1301", "3号楼2单元1301室", "2024-05-01 08:00", "井盖缺失，约 12345 米",
    "order 123456789012345678901", "lat 37.381234 lon 117.012345", "", "v1.2.3",
    "tel 1381234567", "12345678901",
])
def test_other_numbers_and_text_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_none_stays_none() -> None:
    assert mask_text(None) is None


@pytest.mark.parametrize(("name", "masked"), [
    ("张三丰", "张**"), ("张三", "张*"), ("欧阳娜娜", "欧阳**"), ("司马光", "司马*"),
    ("张 三丰", "张 **"), ("John Smith", "**** Smith"), ("Ann", "A**"), ("欧阳", "欧*"),
])
def test_names_keep_the_family_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_json_dead_letter_loses_credentials_at_any_depth_and_masks_personal_fields() -> None:
    body = {"api_key": SECRET, "events": [{
        "reporter_name": "张三丰", "reporter_phone": "13812345678",
        "description": "call 13812345678", "meta": {"password": "p4ss", "X-Auth-Token": SECRET,
                                                    "deep": [{"client_secret": SECRET}]},
        "person_id_number": "370102199001011234", "rating": 5}]}
    scrubbed = scrub_payload(json.dumps(body, ensure_ascii=False))
    assert SECRET not in scrubbed and "p4ss" not in scrubbed
    event = json.loads(scrubbed)["events"][0]
    assert json.loads(scrubbed)["api_key"] == REMOVED
    assert event["reporter_name"] == "张**" and event["reporter_phone"] == "138****5678"
    assert event["description"] == "call 138****5678"
    assert event["person_id_number"] == "3701************34" and event["rating"] == 5
    assert event["meta"]["password"] == REMOVED
    assert event["meta"]["deep"][0]["client_secret"] == REMOVED


def test_form_dead_letter_loses_its_api_key_and_masks_the_resident() -> None:
    raw = (f"api_key={SECRET}&first_name=%E4%B8%89%E4%B8%B0&last_name=%E5%BC%A0"
           "&phone=13812345678&description=%E6%89%93+13812345678&service_code=noise")
    fields = dict(parse_qsl(scrub_payload(raw)))
    assert fields == {"api_key": REMOVED, "first_name": "**", "last_name": "张",
                      "phone": "138****5678", "description": "打 138****5678",
                      "service_code": "noise"}


@pytest.mark.parametrize("raw", [
    f'{{"api_key": "{SECRET}", "description": "13812345678", broken',
    f'{{"token":"{SECRET}"' + " " * 10,
    f"Authorization: Bearer {SECRET}",
    f"token={SECRET}&x=1\n",
    "[" * 5000 + f'"{SECRET}", {{"password": "{SECRET}"}}' + "]" * 5000,
    f"password: '{SECRET}' 13812345678",
])
def test_broken_or_cut_bodies_are_scrubbed_as_text(raw: str) -> None:
    scrubbed = scrub_payload(raw)
    assert SECRET not in scrubbed and "13812345678" not in scrubbed


def test_a_cut_json_body_still_has_its_personal_fields_masked() -> None:
    cut = ('[{"reporter_name": "张三丰", "reporter_phone":"13812345678", '
           '"person_id_number": "370102199001011234", "first_name": "三丰", "descr')
    scrubbed = scrub_payload(cut)
    assert '"reporter_name": "张**"' in scrubbed and '"first_name": "**"' in scrubbed
    for secret in ("三丰", "13812345678", "370102199001011234"):
        assert secret not in scrubbed


def test_the_wall_gets_a_case_with_its_free_text_masked() -> None:
    from domain.schemas import CaseSnapshot
    from streams.case_logic import CaseRecord
    from streams.jobs.cases import case_wall

    snapshot = CaseSnapshot(case_id="c1", grid_id="G1", category="noise", priority="normal",
                            step="reported", tier=1, opened_ms=1, step_entered_ms=1,
                            updated_ms=1, description="call 13812345678, zs@example.com",
                            actor="13912345678")
    data = case_wall(CaseRecord(snapshot=snapshot, clock_start_ms=1), None, None)
    assert data["description"] == "call 138****5678, z***@example.com"
    assert data["actor"] == "139****5678" and data["case_id"] == "c1"


async def test_the_worker_s_dead_letters_are_scrubbed_too() -> None:
    from domain.schemas import DeadLetter
    from streams.outbox import Outbox

    sent: list[bytes] = []

    async def send(topic: str, key: bytes, value: bytes) -> Any:
        sent.append(value)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    out = Outbox(send, wall_topic="wall", rows_topic="rows", dead_topic="dead")
    body = {"event_id": "e1", "reporter_name": "张三丰", "reporter_phone": "13812345678",
            "token": SECRET}
    out.dead("cases", "simulator", "illegal", 5, json.dumps(body).encode(), "G01")
    await out.flush()
    [letter] = [msgspec.json.decode(v, type=DeadLetter) for v in sent]
    assert SECRET not in letter.raw and "13812345678" not in letter.raw
    assert json.loads(letter.raw)["reporter_name"] == "张**"


def test_the_wall_hydrated_from_clickhouse_gets_free_text_masked() -> None:
    from readside.wall_state import CASE_COLUMNS, updates_of

    row = tuple({"case_id": "c1", "description": "call 13812345678", "actor": "a@b.cn",
                 "updated_ms": 7}.get(c, 0) for c in CASE_COLUMNS)
    [update] = updates_of("cases", CASE_COLUMNS, [row], "updated_ms")
    assert update.data["description"] == "call 138****5678"
    assert update.data["actor"] == "a***@b.cn"
