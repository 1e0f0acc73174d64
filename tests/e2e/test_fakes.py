"""The Coda and Google Calendar fakes keep the providers' documented behaviour the workflows rely on.

No n8n here (no e2e marker): these run with the fast suite, so a fake that drifts from the API is
caught before the end-to-end suite trusts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from fakes.coda_server import FakeCoda
from fakes.gcal_server import FakeGoogleCalendar, event_url

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def gcal() -> Iterator[FakeGoogleCalendar]:
    fake = FakeGoogleCalendar(page_size=2).start()
    fake.add_calendar("me@example.test")
    yield fake
    fake.stop()


@pytest.fixture
def coda() -> Iterator[FakeCoda]:
    fake = FakeCoda(page_size=2).start()
    fake.add_table("grid-t", "Tasks", ["Title", "Task ID", "Status"])
    yield fake
    fake.stop()


def _g(fake: FakeGoogleCalendar, method: str, path: str, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {fake.token}"}
    return requests.request(method, fake.url + path, headers=headers, timeout=10, **kw)


def _c(fake: FakeCoda, method: str, path: str, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {fake.token}"}
    return requests.request(method, f"{fake.url}/apis/v1{path}", headers=headers, timeout=10, **kw)


def _event(start: datetime, minutes: int = 60, **extra) -> dict:
    return {
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
        **extra,
    }


def _list_all(fake: FakeGoogleCalendar, **query) -> tuple[list[dict], str]:
    items, token = [], None
    while True:
        page = _g(
            fake, "GET", event_url("me@example.test"), params={**query, **({"pageToken": token} if token else {})}
        ).json()
        items += page["items"]
        token = page.get("nextPageToken")
        if token is None:
            return items, page["nextSyncToken"]


def test_calendar_sync_tokens_return_only_changes_and_expire_with_410(gcal):
    ids = [
        _g(gcal, "POST", event_url("me@example.test"), json=_event(T0 + timedelta(hours=i))).json()["id"]
        for i in range(3)
    ]
    listed, token = _list_all(gcal, timeMin=(T0 - timedelta(days=1)).isoformat())
    assert [e["id"] for e in listed] == ids  # three items over two pages; the last carries the token

    gcal.user_move("me@example.test", ids[1], T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))
    gcal.user_delete("me@example.test", ids[2])
    changed, token = _list_all(gcal, syncToken=token)
    assert [(e["id"], e["status"]) for e in changed] == [(ids[1], "confirmed"), (ids[2], "cancelled")]
    assert _list_all(gcal, syncToken=token)[0] == []

    clash = _g(gcal, "GET", event_url("me@example.test"), params={"syncToken": token, "timeMin": T0.isoformat()})
    assert clash.status_code == 400
    gcal.expire_sync_tokens()
    gone = _g(gcal, "GET", event_url("me@example.test"), params={"syncToken": token})
    assert gone.status_code == 410 and gone.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"


def test_calendar_insert_checks_ids_fields_and_duplicates(gcal):
    path = event_url("me@example.test")
    assert _g(gcal, "POST", path, json=_event(T0, id="abcuv012")).status_code == 200
    assert _g(gcal, "POST", path, json=_event(T0, id="abcuv012")).json()["error"]["code"] == 409
    assert _g(gcal, "POST", path, json=_event(T0, id="has_underscore")).status_code == 400
    assert _g(gcal, "POST", path, json=_event(T0, summaryy="typo")).status_code == 400
    assert _g(gcal, "POST", event_url("someone-else"), json=_event(T0)).status_code == 404
    assert requests.post(gcal.url + path, json=_event(T0), timeout=10).status_code == 401
    updated = _g(gcal, "PUT", event_url("me@example.test", "abcuv012"), json=_event(T0, 30, summary="x"))
    assert updated.json()["summary"] == "x" and updated.json()["id"] == "abcuv012"


def test_free_busy_merges_overlaps_and_skips_free_and_cancelled_events(gcal):
    gcal.add_event("me@example.test", "a", T0, T0 + timedelta(hours=1))
    gcal.add_event("me@example.test", "b", T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    gcal.add_event(
        "me@example.test", "free", T0 + timedelta(hours=3), T0 + timedelta(hours=4), transparency="transparent"
    )
    gone = gcal.add_event("me@example.test", "gone", T0 + timedelta(hours=5), T0 + timedelta(hours=6))
    gcal.user_delete("me@example.test", gone["id"])

    answer = _g(
        gcal,
        "POST",
        "/calendar/v3/freeBusy",
        json={
            "timeMin": T0.isoformat(),
            "timeMax": (T0 + timedelta(days=1)).isoformat(),
            "items": [{"id": "me@example.test"}, {"id": "nobody"}],
        },
    ).json()

    assert answer["calendars"]["me@example.test"]["busy"] == [
        {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T11:00:00Z"}
    ]
    assert answer["calendars"]["nobody"]["errors"][0]["reason"] == "notFound"


def test_coda_upsert_updates_every_match_and_inserts_the_rest(coda):
    first, second = coda.add_row("Tasks", {"Task ID": "T-1"}), coda.add_row("Tasks", {"Task ID": "T-1"})
    body = {
        "keyColumns": ["Task ID"],
        "rows": [
            {"cells": [{"column": "Task ID", "value": "T-1"}, {"column": "Status", "value": "Done"}]},
            {"cells": [{"column": "Task ID", "value": "T-2"}, {"column": "Status", "value": "New"}]},
        ],
    }

    answer = _c(coda, "POST", f"/docs/{coda.doc_id}/tables/Tasks/rows", json=body)

    assert answer.status_code == 202
    assert [(r["_id"], r["Status"]) for r in coda.rows("Tasks")][:2] == [(first, "Done"), (second, "Done")]
    assert answer.json()["addedRowIds"] == [coda.rows("Tasks")[2]["_id"]]
    status = _c(coda, "GET", f"/mutationStatus/{answer.json()['requestId']}")
    assert status.json() == {"completed": True}


def test_coda_refuses_unknown_columns_and_missing_keys(coda):
    rows = f"/docs/{coda.doc_id}/tables/grid-t/rows"
    unknown = _c(coda, "POST", rows, json={"rows": [{"cells": [{"column": "Nope", "value": 1}]}]})
    assert unknown.status_code == 400 and "Nope" in unknown.json()["message"]
    keyless = _c(
        coda, "POST", rows, json={"keyColumns": ["Task ID"], "rows": [{"cells": [{"column": "Status", "value": "x"}]}]}
    )
    assert keyless.status_code == 400
    assert _c(coda, "GET", f"/docs/{coda.doc_id}/tables/Missing/rows").status_code == 404
    assert requests.get(f"{coda.url}/apis/v1{rows}", timeout=10).status_code == 401


def test_coda_rows_page_and_are_found_by_id_or_display_name(coda):
    ids = [coda.add_row("Tasks", {"Title": f"Task {i}", "Task ID": f"T-{i}"}) for i in range(3)]
    rows = f"/docs/{coda.doc_id}/tables/Tasks/rows"
    first = _c(coda, "GET", rows, params={"useColumnNames": "true"}).json()
    second = _c(coda, "GET", rows, params={"pageToken": first["nextPageToken"]}).json()
    assert [r["id"] for r in first["items"] + second["items"]] == ids and "nextPageToken" not in second
    assert first["items"][0]["values"] == {"Title": "Task 0", "Task ID": "T-0"}
    assert list(second["items"][0]["values"]) == ["c-grid-t-0", "c-grid-t-1"]  # column ids without useColumnNames
    by_name = _c(coda, "GET", f"{rows}/Task%201", params={"useColumnNames": "true"}).json()
    assert by_name["id"] == ids[1] and by_name["name"] == "Task 1"
    filtered = _c(coda, "GET", rows, params={"query": '"Task ID":"T-2"'}).json()
    assert [r["id"] for r in filtered["items"]] == [ids[2]]
