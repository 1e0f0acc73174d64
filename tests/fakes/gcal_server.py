"""A local Google Calendar API v3 on a real socket: free/busy, events insert/get/update/patch/delete/list.

n8n's workflows reach Google Calendar through HTTP Request nodes whose base URL is a setting
(`GOOGLE_CALENDAR_BASE_URL`), so the e2e suite points them here. It follows the documented API
(`calendar.v3.json` from google-api-python-client 2.202.0, and INTEGRATIONS.md 2.5):

- `Authorization: Bearer <token>` or 401 `authError`;
- unknown fields in an event or a free/busy request are a 400 (Google rejects unknown names);
- a client-chosen event id must be base32hex (`a-v`, `0-9`), 5 to 1024 characters; a duplicate is
  a 409 `duplicate`;
- `events.list` pages with `pageToken`; the last page of a listing carries `nextSyncToken`; a
  `syncToken` returns only what changed since, deletions included (`status: "cancelled"`), cannot
  be combined with `timeMin`/`timeMax`/`orderBy`/`q`/`updatedMin`, and an expired one is a 410
  `fullSyncRequired`;
- deleting marks the event cancelled (so a sync reports it); deleting it again is a 410.

Tests script the operator's side with `add_calendar`, `add_event`, `user_move` and `user_delete`, and read what
n8n did with `events()` and `requests`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fakes.base import LocalFakeServer

# Top-level fields of the Event and FreeBusyRequest schemas (calendar.v3.json).
EVENT_FIELDS = {
    "anyoneCanAddSelf",
    "attachments",
    "attendees",
    "attendeesOmitted",
    "birthdayProperties",
    "colorId",
    "conferenceData",
    "created",
    "creator",
    "description",
    "end",
    "endTimeUnspecified",
    "etag",
    "eventLabelId",
    "eventType",
    "extendedProperties",
    "focusTimeProperties",
    "gadget",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "hangoutLink",
    "htmlLink",
    "iCalUID",
    "id",
    "kind",
    "location",
    "locked",
    "organizer",
    "originalStartTime",
    "outOfOfficeProperties",
    "privateCopy",
    "recurrence",
    "recurringEventId",
    "reminders",
    "sequence",
    "source",
    "start",
    "status",
    "summary",
    "transparency",
    "updated",
    "visibility",
    "workingLocationProperties",
}
DATETIME_FIELDS = {"date", "dateTime", "timeZone"}
FREEBUSY_FIELDS = {"calendarExpansionMax", "groupExpansionMax", "items", "timeMax", "timeMin", "timeZone"}
LIST_PARAMS = {
    "alwaysIncludeEmail",
    "eventTypes",
    "iCalUID",
    "maxAttendees",
    "maxResults",
    "orderBy",
    "pageToken",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "showDeleted",
    "showHiddenInvitations",
    "singleEvents",
    "syncToken",
    "timeMax",
    "timeMin",
    "timeZone",
    "updatedMin",
}
NOT_WITH_SYNC_TOKEN = {
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
}
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
PREFIX = "/calendar/v3"


class ApiFailure(Exception):
    def __init__(self, status: int, reason: str, message: str, domain: str = "global") -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.domain = status, reason, message, domain

    def body(self) -> dict[str, Any]:
        status = {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            404: "NOT_FOUND",
            409: "ALREADY_EXISTS",
            410: "FAILED_PRECONDITION",
        }.get(self.status, "UNKNOWN")
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "status": status,
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
            }
        }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


def parse_time(value: Any, name: str) -> datetime:
    """An RFC 3339 timestamp with an offset, as Google requires for timeMin/timeMax/dateTime."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiFailure(400, "invalid", f"Invalid value for {name}: {value}") from None
    if parsed.tzinfo is None:
        raise ApiFailure(400, "invalid", f"Invalid value for {name}: {value} (an offset is required)")
    return parsed


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bound(when: Any, name: str) -> datetime:
    if not isinstance(when, dict) or not set(when) <= DATETIME_FIELDS:
        raise ApiFailure(400, "invalid", f"Invalid {name}: use {{dateTime}} or {{date}}")
    if "dateTime" in when:
        return parse_time(when["dateTime"], f"{name}.dateTime")
    if "date" in when:
        return datetime.fromisoformat(str(when["date"])).replace(tzinfo=UTC)
    raise ApiFailure(400, "required", f"Missing {name} time.")


class FakeGoogleCalendar(LocalFakeServer):
    def __init__(self, token: str = "fake-google-access-token", page_size: int = 250) -> None:
        self.token = token
        self.page_size = page_size
        self.requests: list[Request] = []
        self.calendars: set[str] = {"primary"}  # ids the operator can write to; others are a 404
        self._events: dict[str, dict[str, dict[str, Any]]] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._clock = itertools.count(1)
        self._oldest_sync = 0  # tokens below this version answer 410
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._events.clear()
            self._versions.clear()

    # ---- the operator's side, for tests -------------------------------------------------------
    def add_calendar(self, calendar: str) -> None:
        with self._lock:
            self.calendars.add(calendar)

    def add_event(self, calendar: str, summary: str, start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
        body = {
            "summary": summary,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": end.isoformat()},
            **fields,
        }
        return self._insert(calendar, body)

    def user_move(self, calendar: str, event_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        return self._patch(
            calendar, event_id, {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
        )

    def user_delete(self, calendar: str, event_id: str) -> None:
        self._delete(calendar, event_id)

    def expire_sync_tokens(self) -> None:
        with self._lock:
            self._oldest_sync = next(self._clock)

    def events(self, calendar: str = "primary", include_cancelled: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            found = [dict(e) for e in self._events.get(calendar, {}).values()]
        found = [e for e in found if include_cancelled or e["status"] != "cancelled"]
        return sorted(found, key=lambda e: (e["start"].get("dateTime") or e["start"].get("date"), e["id"]))

    def calls(self, method: str, path_part: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(
            f"fake calendar: {what} not met within {timeout} s; requests: {[(r.method, r.path) for r in self.requests]}"
        )

    # ---- the API ------------------------------------------------------------------------------
    def _stamp(self, calendar: str, event: dict[str, Any]) -> None:
        version = next(self._clock)
        self._versions[(calendar, event["id"])] = version
        now = datetime.now(UTC)
        event["updated"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event["etag"] = f'"{version}"'
        event["sequence"] = event.get("sequence", -1) + 1

    def _check_event(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ApiFailure(400, "parseError", "Parse Error")
        unknown = sorted(set(body) - EVENT_FIELDS)
        if unknown:
            raise ApiFailure(400, "invalid", f'Invalid JSON payload received. Unknown name "{unknown[0]}"')
        for name in ("start", "end"):
            if name not in body:
                raise ApiFailure(400, "required", f"Missing {name} time.")
        if _bound(body["end"], "end") < _bound(body["start"], "start"):
            raise ApiFailure(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        ext = body.get("extendedProperties", {})
        if (
            not isinstance(ext, dict)
            or not set(ext) <= {"private", "shared"}
            or not all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in ext.values())
        ):
            raise ApiFailure(400, "invalid", "extendedProperties: private/shared maps of strings only")

    def _insert(self, calendar: str, body: Any) -> dict[str, Any]:
        self._check_event(body)
        with self._lock:
            events = self._events.setdefault(calendar, {})
            event_id = body.get("id") or uuid.uuid4().hex
            if not EVENT_ID.match(event_id):
                raise ApiFailure(400, "invalid", "Invalid resource id value.")
            if event_id in events:
                raise ApiFailure(409, "duplicate", "The requested identifier already exists.")
            event = {
                "kind": "calendar#event",
                **body,
                "id": event_id,
                "status": body.get("status", "confirmed"),
                "htmlLink": f"https://calendar.google.com/event?eid={event_id}",
                "created": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "iCalUID": f"{event_id}@google.com",
                "creator": {"email": "operator@example.test", "self": True},
                "organizer": {"email": calendar, "self": True},
            }
            self._stamp(calendar, event)
            events[event_id] = event
            return dict(event)

    def _get(self, calendar: str, event_id: str) -> dict[str, Any]:
        event = self._events.get(calendar, {}).get(event_id)
        if event is None:
            raise ApiFailure(404, "notFound", "Not Found")
        return event

    def _update(self, calendar: str, event_id: str, body: Any) -> dict[str, Any]:
        self._check_event(body)
        with self._lock:
            event = self._get(calendar, event_id)
            if "id" in body and body["id"] != event_id:
                raise ApiFailure(400, "invalid", "The event id in the body does not match the URL.")
            keep = {
                k: event[k]
                for k in ("kind", "id", "htmlLink", "created", "iCalUID", "creator", "organizer", "sequence")
            }
            event.clear()
            event.update({**body, **keep, "status": body.get("status", "confirmed")})
            self._stamp(calendar, event)
            return dict(event)

    def _patch(self, calendar: str, event_id: str, body: Any) -> dict[str, Any]:
        with self._lock:
            current = dict(self._get(calendar, event_id))
            merged = {**current, **body}
            if "extendedProperties" in body:
                merged["extendedProperties"] = {
                    scope: {**current.get("extendedProperties", {}).get(scope, {}), **values}
                    for scope, values in {**current.get("extendedProperties", {}), **body["extendedProperties"]}.items()
                }
            return self._update(calendar, event_id, {k: v for k, v in merged.items() if k in EVENT_FIELDS})

    def _delete(self, calendar: str, event_id: str) -> None:
        with self._lock:
            event = self._get(calendar, event_id)
            if event["status"] == "cancelled":
                raise ApiFailure(410, "deleted", "Resource has been deleted")
            event["status"] = "cancelled"
            self._stamp(calendar, event)

    def _free_busy(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiFailure(400, "parseError", "Parse Error")
        unknown = sorted(set(body) - FREEBUSY_FIELDS)
        if unknown:
            raise ApiFailure(400, "invalid", f'Invalid JSON payload received. Unknown name "{unknown[0]}"')
        for name in ("timeMin", "timeMax"):
            if name not in body:
                raise ApiFailure(400, "required", f"Missing {name}.")
        low, high = parse_time(body["timeMin"], "timeMin"), parse_time(body["timeMax"], "timeMax")
        if high <= low:
            raise ApiFailure(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        calendars: dict[str, Any] = {}
        for item in body.get("items") or []:
            cal = item.get("id") if isinstance(item, dict) else None
            if cal not in self.calendars:
                calendars[str(cal)] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            spans = []
            for event in self._events.get(cal, {}).values():
                if event["status"] == "cancelled" or event.get("transparency") == "transparent":
                    continue
                start, end = _bound(event["start"], "start"), _bound(event["end"], "end")
                if start < high and end > low:
                    spans.append((max(start, low), min(end, high)))
            merged: list[list[datetime]] = []
            for start, end in sorted(spans):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            calendars[str(cal)] = {"busy": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in merged]}
        return {"kind": "calendar#freeBusy", "timeMin": rfc3339(low), "timeMax": rfc3339(high), "calendars": calendars}

    def _list(self, calendar: str, query: dict[str, str]) -> dict[str, Any]:
        unknown = sorted(set(query) - LIST_PARAMS)
        if unknown:
            raise ApiFailure(400, "invalidParameter", f"Unknown parameter {unknown[0]}")
        size = int(query.get("maxResults") or self.page_size)
        if not 1 <= size <= 2500:
            raise ApiFailure(400, "invalid", "Invalid value for maxResults")
        with self._lock:
            if "pageToken" in query:
                try:
                    offset, since, snapshot, full = (int(x) for x in query["pageToken"].split("."))
                except ValueError:
                    raise ApiFailure(400, "invalid", "Invalid page token") from None
            else:
                offset, snapshot, full = 0, next(self._clock), 1
                since = 0
                if "syncToken" in query:
                    clash = sorted(set(query) & NOT_WITH_SYNC_TOKEN)
                    if clash:
                        raise ApiFailure(400, "invalid", f"{clash[0]} cannot be used together with syncToken")
                    try:
                        since = int(query["syncToken"].removeprefix("sync."))
                    except ValueError:
                        raise ApiFailure(400, "invalid", "Invalid sync token") from None
                    if since < self._oldest_sync:
                        raise ApiFailure(
                            410,
                            "fullSyncRequired",
                            "Sync token is no longer valid, a full sync is required.",
                            domain="calendar",
                        )
                    full = 0
            show_deleted = not full or query.get("showDeleted") == "true"
            low = parse_time(query["timeMin"], "timeMin") if "timeMin" in query else None
            high = parse_time(query["timeMax"], "timeMax") if "timeMax" in query else None
            matching = []
            for event in self._events.get(calendar, {}).values():
                version = self._versions[(calendar, event["id"])]
                if version <= since or version > snapshot:
                    continue
                if event["status"] == "cancelled" and not show_deleted:
                    continue
                if low and _bound(event["end"], "end") <= low:
                    continue
                if high and _bound(event["start"], "start") >= high:
                    continue
                if query.get("q") and query["q"].lower() not in json.dumps(event).lower():
                    continue
                matching.append(dict(event))
        if query.get("orderBy") == "startTime":
            matching.sort(key=lambda e: (_bound(e["start"], "start"), e["id"]))
        else:
            matching.sort(key=lambda e: self._versions[(calendar, e["id"])])
        page = matching[offset : offset + size]
        out: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": calendar,
            "timeZone": "UTC",
            "updated": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "accessRole": "owner",
            "defaultReminders": [],
            "items": page,
        }
        if offset + size < len(matching):
            out["nextPageToken"] = f"{offset + size}.{since}.{snapshot}.{full}"
        else:
            out["nextSyncToken"] = f"sync.{snapshot}"
        return out

    # ---- HTTP ---------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if path == f"{PREFIX}/freeBusy" and method == "POST":
            return 200, self._free_busy(body)
        match = re.match(rf"^{PREFIX}/calendars/([^/]+)/events(?:/([^/]+))?$", path)
        if match is None:
            raise ApiFailure(404, "notFound", "Not Found")
        calendar, event_id = unquote(match[1]), unquote(match[2]) if match[2] else None
        if calendar not in self.calendars:
            raise ApiFailure(404, "notFound", "Not Found")
        if event_id is None and method == "GET":
            return 200, self._list(calendar, query)
        if event_id is None and method == "POST":
            return 200, self._insert(calendar, body)
        if event_id is not None and method == "GET":
            with self._lock:
                return 200, dict(self._get(calendar, event_id))
        if event_id is not None and method == "PUT":
            return 200, self._update(calendar, event_id, body)
        if event_id is not None and method == "PATCH":
            if not isinstance(body, dict) or set(body) - EVENT_FIELDS:
                raise ApiFailure(400, "invalid", "Invalid JSON payload received.")
            return 200, self._patch(calendar, event_id, body)
        if event_id is not None and method == "DELETE":
            self._delete(calendar, event_id)
            return 204, None
        raise ApiFailure(405, "httpMethodNotAllowed", "Method Not Allowed")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, ApiFailure(400, "parseError", "Parse Error").body())
                with fake._lock:
                    fake.requests.append(Request(method, parts.path, query, body, dict(self.headers)))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    failure = ApiFailure(401, "authError", "Invalid Credentials")
                    return self._send(401, failure.body())
                try:
                    status, answer = fake._route(method, parts.path, query, body)
                except ApiFailure as failure:
                    return self._send(failure.status, failure.body())
                self._send(status, answer)

            def _send(self, status: int, body: Any) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def event_url(calendar: str, event_id: str | None = None) -> str:
    """The path of a calendar's events (or one event), for tests that call the fake directly."""
    tail = f"/{quote(event_id, safe='')}" if event_id else ""
    return f"{PREFIX}/calendars/{quote(calendar, safe='')}/events{tail}"


def in_minutes(minutes: int, base: datetime | None = None) -> datetime:
    return (base or datetime.now(UTC)).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
