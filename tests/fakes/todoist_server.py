"""A stateful local Todoist API v1 on a real socket, for the sync tests.

It speaks the endpoints Steward's todoist-sync workflow uses, in the shapes of the official SDK
(`todoist-api-python` 4.x, API v1) and the Sync endpoint's documented command form:

    POST /api/v1/sync                  sync_token ('*' = full), resource_types, commands[{type, uuid,
                                       temp_id, args}] -> sync_status, temp_id_mapping, items,
                                       projects, labels, user; body application/x-www-form-urlencoded
                                       with resource_types and commands as JSON-encoded strings (the
                                       documented form), or application/json with them as arrays
                                       (what Doist's own TypeScript SDK sends); anything else is a 400
    GET|POST /api/v1/tasks             list (cursor pages) | create (X-Request-Id de-duplicates)
    GET|POST|DELETE /api/v1/tasks/{id} read | update | delete;  POST .../close, .../reopen
    GET /api/v1/tasks/completed/by_completion_date?since=&until=   {items, next_cursor}
    GET|POST /api/v1/projects, GET|POST|DELETE /api/v1/projects/{id}, GET|POST /api/v1/labels

Behaviour worth knowing, as Todoist documents it: a command uuid runs at most once (a replay gets
the first answer again, temp_id mapping included); a due string such as "every monday", "ev 3 days",
"every! week" or "daily" makes the task recurring (due.is_recurring), and closing a recurring task
moves its due date to the next occurrence instead of completing it (it never shows in
tasks/completed); a full sync lists only active, undeleted objects and an incremental one
everything changed since the token, deletions and completions included; a token from before
`invalidate_tokens()` is refused with 410. Scripting for tests:

    fake = FakeTodoist().start()
    fake.fail(503, times=2, path="/api/v1/sync")   # the next two sync calls fail
    fake.reject(400, "INVALID_ARGUMENT_VALUE")     # the next command fails inside a 200 answer
    fake.phone_update(task_id, content="...")      # the user edits on their phone
    fake.silently_update(task_id, priority=4)      # drift only a full sync can see
    fake.active_tasks(), fake.stored_tasks(), fake.requests   # requests hold the fields decoded
    fake.reset()                                    # an empty account (same server, tokens refused)
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API = "/api/v1"
TOKEN = "test-todoist-token"
_ID_CHARS = string.ascii_letters + string.digits
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def new_id() -> str:
    """A v1-style opaque id (16 alphanumerics)."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(16))


def api_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Fail:
    status: int
    path: str | None
    retry_after: int | None = None


_RECURRING = re.compile(r"^(every!?|ev!?)\s|^(daily|weekly|monthly|yearly|annually)\b")


@dataclass
class Recorded:
    method: str
    path: str
    body: Any  # the fields, decoded (a form's JSON-encoded commands as a list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""


class CommandError(Exception):
    def __init__(self, http_code: int, tag: str, message: str) -> None:
        super().__init__(message)
        self.http_code, self.tag, self.message = http_code, tag, message

    def status(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "error_code": {404: 22, 400: 20}.get(self.http_code, 1),
            "error_extra": {},
            "error_tag": self.tag,
            "http_code": self.http_code,
        }


class FakeTodoist:
    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self._lock = threading.RLock()
        self._server: Any = None
        self.reset()

    def reset(self) -> None:
        """An empty account with a new Inbox; tokens issued before are refused (410)."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.user_id = new_id()
        self._version = 0
        self._epoch = secrets.token_hex(4)
        self._versions: dict[tuple[str, str], int] = {}
        self._command_results: dict[str, tuple[Any, dict[str, str]]] = {}
        self._request_ids: dict[str, dict[str, Any]] = {}
        self._temp_ids: dict[str, str] = {}
        self._script: deque[Fail] = deque()
        self._rejections: deque[CommandError] = deque()
        self.inbox_id = self._add_project({"name": "Inbox"}, inbox=True)["id"]

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeTodoist:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> FakeTodoist:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Scheme, host and port: Steward's request paths (`/api/v1/...`) are appended to it."""
        return f"http://127.0.0.1:{self._server.server_port}"

    # ---- scripting -----------------------------------------------------------------------
    def fail(self, status: int = 503, times: int = 1, path: str | None = None, retry_after: int | None = None) -> None:
        with self._lock:
            self._script.extend(Fail(status, path, retry_after) for _ in range(times))

    def reject(self, http_code: int = 400, tag: str = "INVALID_ARGUMENT_VALUE", times: int = 1) -> None:
        """The next `times` commands fail on their own (the HTTP request still answers 200)."""
        with self._lock:
            self._rejections.extend(CommandError(http_code, tag, f"Rejected: {tag}") for _ in range(times))

    def invalidate_tokens(self) -> None:
        """Every sync token issued so far is refused from now on (410), as after a server reset."""
        with self._lock:
            self._epoch = secrets.token_hex(4)

    def active_tasks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self.tasks.values() if not t["checked"] and not t["is_deleted"]]

    def stored_tasks(self, content: str | None = None) -> list[dict[str, Any]]:
        """Every task not deleted, open or completed; only those with this exact content if given."""
        with self._lock:
            return [dict(t) for t in self.tasks.values() if not t["is_deleted"] and content in (None, t["content"])]

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def phone_add(self, content: str, **args: Any) -> dict[str, Any]:
        with self._lock:
            return dict(self._add_task({"content": content, **args}))

    def phone_update(self, task_id: str, **args: Any) -> dict[str, Any]:
        with self._lock:
            return dict(self._update_task({"id": task_id, **args}))

    def phone_close(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._close_task(task_id))

    def phone_delete(self, task_id: str) -> None:
        with self._lock:
            self._delete_task(task_id)

    def silently_update(self, task_id: str, **fields: Any) -> dict[str, Any]:
        """Change a task's stored fields without recording the change: incremental syncs never
        report it, only a full sync shows it (drift, as after an update Todoist lost track of)."""
        with self._lock:
            self.tasks[task_id].update(fields)
            return dict(self.tasks[task_id])

    # ---- state changes (lock held) -------------------------------------------------------
    def _touch(self, kind: str, obj: dict[str, Any]) -> None:
        self._version += 1
        self._versions[(kind, obj["id"])] = self._version
        if kind == "items":
            obj["updated_at"] = api_time()

    def _add_project(self, args: dict[str, Any], inbox: bool = False) -> dict[str, Any]:
        if not str(args.get("name") or "").strip():
            raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: name")
        now = api_time()
        project = {
            "id": new_id(),
            "name": args["name"],
            "description": args.get("description", ""),
            "color": args.get("color", "charcoal"),
            "parent_id": self._resolve(args.get("parent_id")),
            "child_order": len(self.projects),
            "collapsed": False,
            "shared": False,
            "is_favorite": bool(args.get("is_favorite", False)),
            "is_archived": False,
            "is_deleted": False,
            "can_assign_tasks": False,
            "view_style": args.get("view_style", "list"),
            "inbox_project": inbox,
            "created_at": now,
            "updated_at": now,
        }
        self.projects[project["id"]] = project
        self._touch("projects", project)
        return project

    def _project(self, project_id: str | None) -> dict[str, Any]:
        project = self.projects.get(self._resolve(project_id) or "")
        if project is None or project["is_deleted"]:
            raise CommandError(404, "PROJECT_NOT_FOUND", "Project not found")
        return project

    def _resolve(self, some_id: str | None) -> str | None:
        return self._temp_ids.get(some_id, some_id) if some_id else some_id

    def _due(self, value: Any, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not (value.get("date") or value.get("string")):
            raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: due")
        text = value.get("string") or ""
        recurring = bool(_RECURRING.match(text.strip().lower()))
        when = value.get("date") or (current or {}).get("date") or date.today().isoformat()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z?)?", when):
            raise CommandError(400, "INVALID_DATE_FORMAT", "Date format not recognized")
        return {
            "date": when,
            "timezone": value.get("timezone"),
            "string": text or when,
            "lang": value.get("lang", "en"),
            "is_recurring": recurring,
        }

    def _duration(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if (
            not isinstance(value, dict)
            or int(value.get("amount") or 0) < 1
            or value.get("unit") not in ("minute", "day")
        ):
            raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: duration")
        return {"amount": int(value["amount"]), "unit": value["unit"]}

    def _add_task(self, args: dict[str, Any]) -> dict[str, Any]:
        content = str(args.get("content") or "")
        if not content.strip() or len(content) > 500:
            raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: content")
        project_id = self._project(args.get("project_id") or self.inbox_id)["id"]
        priority = int(args.get("priority", 1))
        if priority not in (1, 2, 3, 4):
            raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: priority")
        now = api_time()
        task = {
            "id": new_id(),
            "user_id": self.user_id,
            "project_id": project_id,
            "section_id": None,
            "parent_id": None,
            "content": content,
            "description": str(args.get("description") or ""),
            "priority": priority,
            "labels": list(args.get("labels") or []),
            "due": self._due(args.get("due")),
            "deadline": None,
            "duration": self._duration(args.get("duration")),
            "checked": False,
            "is_deleted": False,
            "child_order": len(self.tasks),
            "day_order": -1,
            "collapsed": False,
            "added_by_uid": self.user_id,
            "assigned_by_uid": None,
            "responsible_uid": None,
            "note_count": 0,
            "added_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        for name in task["labels"]:
            self._ensure_label(name)
        self.tasks[task["id"]] = task
        self._touch("items", task)
        return task

    def _task(self, task_id: str | None) -> dict[str, Any]:
        task = self.tasks.get(self._resolve(task_id) or "")
        if task is None or task["is_deleted"]:
            raise CommandError(404, "ITEM_NOT_FOUND", "Task not found")
        return task

    def _update_task(self, args: dict[str, Any]) -> dict[str, Any]:
        task = self._task(args.get("id"))
        if "content" in args:
            if not str(args["content"] or "").strip():
                raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: content")
            task["content"] = args["content"]
        if "description" in args:
            task["description"] = str(args["description"] or "")
        if "priority" in args:
            if int(args["priority"]) not in (1, 2, 3, 4):
                raise CommandError(400, "INVALID_ARGUMENT_VALUE", "Invalid argument value: priority")
            task["priority"] = int(args["priority"])
        if "labels" in args:
            task["labels"] = list(args["labels"] or [])
            for name in task["labels"]:
                self._ensure_label(name)
        if "due" in args:
            task["due"] = self._due(args["due"], task["due"])
        if "duration" in args:
            task["duration"] = self._duration(args["duration"])
        if "project_id" in args:
            task["project_id"] = self._project(args["project_id"])["id"]
        self._touch("items", task)
        return task

    def _close_task(self, task_id: str | None) -> dict[str, Any]:
        task = self._task(task_id)
        if task["due"] and task["due"]["is_recurring"]:
            task["due"] = dict(task["due"], date=_next_occurrence(task["due"]))
        else:
            task["checked"] = True
            task["completed_at"] = api_time()
        self._touch("items", task)
        return task

    def _reopen_task(self, task_id: str | None) -> dict[str, Any]:
        task = self._task(task_id)
        task["checked"], task["completed_at"] = False, None
        self._touch("items", task)
        return task

    def _delete_task(self, task_id: str | None) -> None:
        task = self._task(task_id)
        task["is_deleted"] = True
        self._touch("items", task)

    def _ensure_label(self, name: str) -> None:
        if not any(label["name"] == name for label in self.labels.values()):
            label = {
                "id": new_id(),
                "name": name,
                "color": "charcoal",
                "item_order": len(self.labels),
                "is_deleted": False,
                "is_favorite": False,
            }
            self.labels[label["id"]] = label
            self._touch("labels", label)

    def _command(self, command: dict[str, Any]) -> dict[str, str]:
        """Run one Sync command; returns the temp_id mapping it produced."""
        kind, args = command.get("type"), command.get("args") or {}
        temp_id = command.get("temp_id")
        if self._rejections:
            raise self._rejections.popleft()
        if kind == "item_add":
            created = self._add_task(args)
        elif kind == "project_add":
            created = self._add_project(args)
        else:
            created = None
            if kind == "item_update":
                self._update_task(args)
            elif kind == "item_move":
                self._update_task({"id": args.get("id"), "project_id": args.get("project_id")})
            elif kind == "item_close":
                self._close_task(args.get("id"))
            elif kind == "item_complete":
                task = self._task(args.get("id"))
                task["checked"], task["completed_at"] = True, api_time()
                self._touch("items", task)
            elif kind == "item_uncomplete":
                self._reopen_task(args.get("id"))
            elif kind == "item_delete":
                self._delete_task(args.get("id"))
            elif kind in ("project_update", "project_delete", "project_archive", "project_unarchive"):
                project = self._project(args.get("id"))
                if kind == "project_update" and "name" in args:
                    project["name"] = args["name"]
                project["is_deleted"] = project["is_deleted"] or kind == "project_delete"
                project["is_archived"] = {"project_archive": True, "project_unarchive": False}.get(
                    kind, project["is_archived"]
                )
                self._touch("projects", project)
            else:
                raise CommandError(400, "INVALID_COMMAND", f"Unknown command type: {kind}")
        if created is not None and temp_id:
            self._temp_ids[temp_id] = created["id"]
            return {temp_id: created["id"]}
        return {}

    # ---- serving -------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        body, problem = _body(request)
        if problem is None and request.path == f"{API}/sync":
            body, problem = _sync_params(body, request.mimetype)
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, body, dict(request.headers), request.mimetype))
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return _json(401, {"error": "Unauthorized", "http_code": 401})
            step = next((f for f in self._script if f.path in (None, request.path)), None)
            if step is not None:
                self._script.remove(step)
                headers = {"Retry-After": str(step.retry_after)} if step.retry_after else {}
                return _json(step.status, {"error": "Service unavailable", "http_code": step.status}, headers)
            if problem is not None:
                return _json(400, {"error": problem, "http_code": 400, "error_tag": "INVALID_ARGUMENT_VALUE"})
            try:
                return self._route(request, body)
            except CommandError as exc:
                return _json(exc.http_code, exc.status())

    def _route(self, request: Request, body: dict[str, Any]) -> Response:
        path, method = request.path, request.method
        if path == f"{API}/sync" and method == "POST":
            return self._sync(body)
        if path == f"{API}/tasks/completed/by_completion_date" and method == "GET":
            return self._completed(request)
        if path == f"{API}/tasks":
            if method == "GET":
                return _page([t for t in self.tasks.values() if not t["checked"] and not t["is_deleted"]], request)
            request_id = request.headers.get("X-Request-Id")
            if request_id and request_id in self._request_ids:
                return _json(200, self._request_ids[request_id])
            task = self._add_task(_rest_task_args(body))
            if request_id:
                self._request_ids[request_id] = task
            return _json(200, task)
        match = re.fullmatch(rf"{API}/tasks/([A-Za-z0-9]+)(/close|/reopen)?", path)
        if match:
            task_id, action = match.groups()
            if action == "/close" and method == "POST":
                self._close_task(task_id)
                return Response(status=204)
            if action == "/reopen" and method == "POST":
                self._reopen_task(task_id)
                return Response(status=204)
            if method == "GET":
                return _json(200, self._task(task_id))
            if method == "DELETE":
                self._delete_task(task_id)
                return Response(status=204)
            if method == "POST":
                return _json(200, self._update_task({"id": task_id, **_rest_task_args(body)}))
        if path == f"{API}/projects":
            if method == "GET":
                return _page([p for p in self.projects.values() if not p["is_deleted"]], request)
            return _json(200, self._add_project(body))
        match = re.fullmatch(rf"{API}/projects/([A-Za-z0-9]+)", path)
        if match:
            project = self._project(match.group(1))
            if method == "DELETE":
                project["is_deleted"] = True
                self._touch("projects", project)
                return Response(status=204)
            if method == "POST" and "name" in body:
                project["name"] = body["name"]
                self._touch("projects", project)
            return _json(200, project)
        if path == f"{API}/labels":
            if method == "GET":
                return _page([lb for lb in self.labels.values() if not lb["is_deleted"]], request)
            self._ensure_label(str(body.get("name") or ""))
            return _json(200, next(lb for lb in self.labels.values() if lb["name"] == body.get("name")))
        return _json(404, {"error": f"no route {method} {path}", "http_code": 404})

    def _sync(self, body: dict[str, Any]) -> Response:
        commands = body.get("commands") or []
        resource_types = body.get("resource_types") or []
        token = body.get("sync_token")
        since = self._token_version(token) if token not in (None, "*") else 0
        if since is None:
            return _json(
                410,
                {
                    "error": "Invalid sync token",
                    "error_code": 36,
                    "error_tag": "INVALID_SYNC_TOKEN",
                    "http_code": 410,
                    "error_extra": {},
                },
            )
        statuses: dict[str, Any] = {}
        mapping: dict[str, str] = {}
        for command in commands:
            uuid = str(command.get("uuid") or "")
            if uuid in self._command_results:
                status, produced = self._command_results[uuid]
            else:
                try:
                    produced, status = self._command(command), "ok"
                except CommandError as exc:
                    produced, status = {}, exc.status()
                self._command_results[uuid] = (status, produced)
            statuses[uuid] = status
            mapping.update(produced)
        reply: dict[str, Any] = {"sync_token": self._issue_token(), "full_sync": token == "*"}
        if commands:
            reply.update(sync_status=statuses, temp_id_mapping=mapping)
        if token is not None:
            wanted = set(resource_types) or set()
            full = token == "*"
            for kind, table in (("items", self.tasks), ("projects", self.projects), ("labels", self.labels)):
                if "all" in wanted or kind in wanted:
                    reply[kind] = [dict(obj) for obj in table.values() if self._changed(kind, obj, since, full)]
            if "all" in wanted or "user" in wanted:
                reply["user"] = {
                    "id": self.user_id,
                    "inbox_project_id": self.inbox_id,
                    "tz_info": {"timezone": self.timezone},
                }
            reply.setdefault("temp_id_mapping", {})
        return _json(200, reply)

    def _changed(self, kind: str, obj: dict[str, Any], since: int, full: bool) -> bool:
        if full:
            return not obj.get("is_deleted") and not obj.get("checked") and not obj.get("is_archived")
        return self._versions[(kind, obj["id"])] > since

    def _issue_token(self) -> str:
        return f"{self._epoch}.{self._version}"

    def _token_version(self, token: Any) -> int | None:
        epoch, _, version = str(token).partition(".")
        if epoch != self._epoch or not version.isdigit():
            return None
        return int(version)

    def _completed(self, request: Request) -> Response:
        since, until = request.args.get("since"), request.args.get("until")
        if not since or not until:
            return _json(400, {"error": "since and until are required", "http_code": 400})
        done = [
            t
            for t in self.tasks.values()
            if t["checked"] and not t["is_deleted"] and since <= t["completed_at"] <= until
        ]
        return _page(done, request, key="items")


def _next_occurrence(due: dict[str, Any]) -> str:
    """Todoist's 'every ...' moves the date from the current due date (not from today)."""
    text = due["string"].lower()
    raw = due["date"]
    when = datetime.fromisoformat(raw.rstrip("Z")) if "T" in raw else datetime.fromisoformat(raw)
    interval = re.search(r"every\s+(\d+|other)\s", text + " ")
    n = 2 if interval and interval.group(1) == "other" else int(interval.group(1)) if interval else 1
    weekday = next((i for i, name in enumerate(_WEEKDAYS) if name in text or f" {name[:3]}" in text), None)
    if "week" in text or weekday is not None:
        step = timedelta(weeks=n)
        if weekday is not None and "week" not in text:
            step = timedelta(days=(weekday - when.weekday()) % 7 or 7) + timedelta(weeks=n - 1)
        moved = when + step
    elif "month" in text:
        month = when.month - 1 + n
        moved = when.replace(year=when.year + month // 12, month=month % 12 + 1)
    elif "year" in text or "annual" in text:
        moved = when.replace(year=when.year + n)
    else:
        moved = when + timedelta(days=n)
    if "T" not in raw:
        return moved.date().isoformat()
    return moved.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if raw.endswith("Z") else "")


def _rest_task_args(body: dict[str, Any]) -> dict[str, Any]:
    """REST field names (due_date, due_string, duration + duration_unit) -> command args."""
    args = {
        k: v
        for k, v in body.items()
        if k not in ("due_date", "due_datetime", "due_string", "due_lang", "duration", "duration_unit")
    }
    if any(k in body for k in ("due_date", "due_datetime", "due_string")):
        args["due"] = {"date": body.get("due_datetime") or body.get("due_date"), "string": body.get("due_string")}
    if "duration" in body:
        args["duration"] = {"amount": body["duration"], "unit": body.get("duration_unit", "minute")}
    return args


FORM = "application/x-www-form-urlencoded"


def _body(request: Request) -> tuple[dict[str, Any], str | None]:
    """The request's fields, and why they cannot be read (None when they can)."""
    raw = request.get_data(as_text=True)
    if not raw:
        return {}, None
    if request.mimetype == "application/json":
        try:
            data = json.loads(raw)
        except ValueError:
            return {}, "the body is not valid JSON"
        return (data, None) if isinstance(data, dict) else ({}, "a JSON body must be an object")
    if request.mimetype == FORM:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}, None
    return {}, f"unsupported Content-Type {request.mimetype or '(none)'}; send {FORM} or application/json"


def _sync_params(body: dict[str, Any], mimetype: str) -> tuple[dict[str, Any], str | None]:
    """The Sync endpoint's list fields: JSON-encoded strings in a form (as documented), arrays in JSON."""
    decoded = dict(body)
    for name in ("commands", "resource_types"):
        value = body.get(name)
        if value is None:
            continue
        if mimetype == FORM:
            try:
                value = json.loads(value)
            except ValueError:
                return body, f"{name} must be a JSON-encoded array"
        if not isinstance(value, list):
            return body, f"{name} must be an array" + (" (JSON-encoded)" if mimetype == FORM else "")
        if name == "commands" and not all(isinstance(c, dict) for c in value):
            return body, "every command must be an object with type, uuid and args"
        decoded[name] = value
    return decoded, None


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers or {})


def _page(rows: list[dict[str, Any]], request: Request, key: str = "results") -> Response:
    """Cursor pagination as API v1 does it: `limit` (default 50, max 200) and an opaque cursor."""
    limit = min(int(request.args.get("limit") or 50), 200)
    start = int(request.args.get("cursor") or 0)
    chunk = rows[start : start + limit]
    more = start + limit < len(rows)
    return _json(200, {key: [dict(r) for r in chunk], "next_cursor": str(start + limit) if more else None})
