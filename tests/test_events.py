"""The event log over HTTP: append, filter, paginate."""

from datetime import UTC, datetime, timedelta


def _post(api, client_id, event_type="task_created", source="n8n", when=None, **extra):
    body = {"event_type": event_type, "event_source": source, "client_id": client_id, **extra}
    if when:
        body["occurred_at"] = when.isoformat()
    resp = api.post("/api/v1/events", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_round_trip_keeps_every_field(api, client_id):
    when = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    created = _post(api, client_id, payload={"task": "T-1", "n": [1, 2]}, metadata={"wf": "x"}, when=when)
    page = api.get("/api/v1/events", params={"client_id": client_id}).json()
    assert page["items"] == [created] and page["next_cursor"] is None
    assert created["payload"] == {"task": "T-1", "n": [1, 2]}
    assert datetime.fromisoformat(created["occurred_at"]) == when


def test_offsets_are_stored_as_the_same_instant(api, client_id):
    created = _post(api, client_id, when=datetime.fromisoformat("2026-11-20T10:00:00+01:00"))
    assert datetime.fromisoformat(created["occurred_at"]) == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_filters_by_type_source_client_and_time(api, client_id):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(5):
        _post(api, client_id, event_type="a" if day % 2 else "b", source=f"s{day % 2}", when=base + timedelta(days=day))
    _post(api, "someone-else", when=base)
    assert len(api.get("/api/v1/events", params={"client_id": client_id}).json()["items"]) == 5
    assert len(api.get("/api/v1/events", params={"client_id": client_id, "event_type": "a"}).json()["items"]) == 2
    assert len(api.get("/api/v1/events", params={"event_source": "s0", "client_id": client_id}).json()["items"]) == 3
    ranged = api.get(
        "/api/v1/events",
        params={
            "client_id": client_id,
            "since": (base + timedelta(days=1)).isoformat(),
            "until": (base + timedelta(days=3)).isoformat(),
        },
    ).json()["items"]
    assert len(ranged) == 3


def test_pagination_walks_every_event_once_newest_first(api, client_id):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    made = [_post(api, client_id, when=base + timedelta(minutes=i // 2))["id"] for i in range(23)]
    seen, cursor = [], None
    while True:
        params = {"client_id": client_id, "limit": 5, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/events", params=params).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    times = [
        e["occurred_at"]
        for e in api.get("/api/v1/events", params={"client_id": client_id, "limit": 500}).json()["items"]
    ]
    assert times == sorted(times, reverse=True)
