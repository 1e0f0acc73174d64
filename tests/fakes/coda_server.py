"""A local Coda API v1 on a real socket: list and get rows, upsert rows with keyColumns, mutation status.

n8n's workflows reach Coda through HTTP Request nodes whose base URL is a setting (`CODA_BASE_URL`),
so the e2e suite points them here. It follows the documented API (INTEGRATIONS.md 2.6):

- `Authorization: Bearer <token>` or 401;
- tables and columns are found by id or by name; an unknown table is a 404, an unknown column in
  a write a 400 (Coda refuses it rather than dropping it);
- `POST .../rows` inserts, or with `keyColumns` updates **every** row whose key cells match and
  inserts the rest; it answers 202 with a `requestId` (and `addedRowIds`), and
  `GET /mutationStatus/{requestId}` says whether it completed;
- row lists page with `pageToken`; `useColumnNames=true` keys values by column name (else id);
  `query=<column>:<json value>` filters on one column; a row is got by id or by its display value.

Tests define tables with `add_table`, seed rows with `add_row`, and read what n8n wrote with
`rows()` and `requests`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.base import LocalFakeServer

ROWS = re.compile(r"^/docs/(?P<doc>[^/]+)/tables/(?P<table>[^/]+)/rows(?:/(?P<row>[^/]+))?$")
MUTATION = re.compile(r"^/mutationStatus/(?P<id>[^/]+)$")


class ApiFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict[str, Any]:
        names = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
        return {"statusCode": self.status, "statusMessage": names.get(self.status, "Error"), "message": self.message}


@dataclass
class Table:
    id: str
    name: str
    columns: dict[str, str]  # column id -> name
    display: str  # the display column's id
    rows: list[dict[str, Any]] = field(default_factory=list)

    def column(self, ref: str) -> str | None:
        """A column id for an id or a name."""
        if ref in self.columns:
            return ref
        return next((cid for cid, name in self.columns.items() if name == ref), None)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


class FakeCoda(LocalFakeServer):
    def __init__(self, token: str = "fake-coda-api-token", doc_id: str = "doc-steward", page_size: int = 100) -> None:
        self.token = token
        self.doc_id = doc_id
        self.page_size = page_size
        self.requests: list[Request] = []
        self.tables: dict[str, Table] = {}
        self.mutations: dict[str, bool] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.mutations.clear()
            for table in self.tables.values():
                table.rows.clear()

    # ---- the doc's side, for tests ------------------------------------------------------------
    def add_table(self, table_id: str, name: str, columns: list[str], display: str | None = None) -> Table:
        """A table whose columns get ids c-<n>; `display` names the display column (default: the first)."""
        with self._lock:
            ids = {f"c-{table_id}-{i}": col for i, col in enumerate(columns)}
            table = Table(table_id, name, ids, next(c for c, n in ids.items() if n == (display or columns[0])))
            self.tables[table_id] = table
            return table

    def add_row(self, table: str, values: dict[str, Any]) -> str:
        with self._lock:
            found = self._table(table)
            return self._insert(found, self._cells(found, [{"column": k, "value": v} for k, v in values.items()]))

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Rows as {column name: value}, plus "_id"."""
        with self._lock:
            found = self._table(table)
            return [{"_id": r["id"], **{found.columns[c]: v for c, v in r["values"].items()}} for r in found.rows]

    def writes(self, table: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and (table is None or f"/tables/{table}/" in r.path)]

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(
            f"fake Coda: {what} not met within {timeout} s; requests: {[(r.method, r.path) for r in self.requests]}"
        )

    # ---- the API ------------------------------------------------------------------------------
    def _table(self, ref: str) -> Table:
        table = self.tables.get(ref) or next((t for t in self.tables.values() if t.name == ref), None)
        if table is None:
            raise ApiFailure(404, f"Could not find a table with id or name '{ref}'")
        return table

    @staticmethod
    def _cells(table: Table, cells: Any) -> dict[str, Any]:
        if not isinstance(cells, list) or not cells:
            raise ApiFailure(400, "Each row needs a non-empty 'cells' list")
        values = {}
        for cell in cells:
            if not isinstance(cell, dict) or set(cell) != {"column", "value"}:
                raise ApiFailure(400, "Each cell is {column, value}")
            column = table.column(str(cell["column"]))
            if column is None:
                raise ApiFailure(400, f"Could not find a column named '{cell['column']}' in table '{table.name}'")
            values[column] = cell["value"]
        return values

    def _insert(self, table: Table, values: dict[str, Any]) -> str:
        row_id = f"i-{next(self._ids):06d}"
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        table.rows.append({"id": row_id, "values": values, "createdAt": now, "updatedAt": now})
        return row_id

    def _upsert(self, table: Table, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not set(body) <= {"rows", "keyColumns", "disableParsing"}:
            raise ApiFailure(400, "The body is {rows, keyColumns?, disableParsing?}")
        rows = body.get("rows")
        if not isinstance(rows, list) or not rows:
            raise ApiFailure(400, "'rows' must be a non-empty list")
        keys = []
        for ref in body.get("keyColumns") or []:
            column = table.column(str(ref))
            if column is None:
                raise ApiFailure(400, f"Could not find a key column named '{ref}' in table '{table.name}'")
            keys.append(column)
        parsed = []
        for row in rows:
            if not isinstance(row, dict) or set(row) != {"cells"}:
                raise ApiFailure(400, "Each row is {cells: [...]}")
            values = self._cells(table, row["cells"])
            missing = [table.columns[k] for k in keys if k not in values]
            if missing:
                raise ApiFailure(400, f"Each row must have a value for the key column '{missing[0]}'")
            parsed.append(values)
        added = []
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for values in parsed:
            matches = [r for r in table.rows if keys and all(r["values"].get(k) == values[k] for k in keys)]
            for match in matches:
                match["values"].update(values)
                match["updatedAt"] = now
            if not matches:
                added.append(self._insert(table, values))
        request_id = f"mutate:{next(self._ids):06d}"
        self.mutations[request_id] = True
        return {"requestId": request_id, "addedRowIds": added}

    def _row_out(self, table: Table, row: dict[str, Any], names: bool) -> dict[str, Any]:
        values = {(table.columns[c] if names else c): v for c, v in row["values"].items()}
        return {
            "id": row["id"],
            "type": "row",
            "href": f"{self.url}/docs/{self.doc_id}/tables/{table.id}/rows/{row['id']}",
            "name": str(row["values"].get(table.display, "")),
            "index": table.rows.index(row),
            "createdAt": row["createdAt"],
            "updatedAt": row["updatedAt"],
            "browserLink": f"https://coda.io/d/_d{self.doc_id}#_tu{table.id}/_ru{row['id']}",
            "values": values,
        }

    def _list(self, table: Table, query: dict[str, str]) -> dict[str, Any]:
        names = query.get("useColumnNames") == "true"
        rows = list(table.rows)
        if query.get("query"):
            ref, _, raw = query["query"].partition(":")
            column = table.column(ref.strip('"'))
            if column is None:
                raise ApiFailure(400, f"Could not find a column named '{ref}'")
            try:
                wanted = json.loads(raw)
            except ValueError:
                wanted = raw
            rows = [r for r in rows if r["values"].get(column) == wanted]
        size = int(query.get("limit") or self.page_size)
        offset = int(query.get("pageToken") or 0)
        out: dict[str, Any] = {
            "items": [self._row_out(table, r, names) for r in rows[offset : offset + size]],
            "href": f"{self.url}/docs/{self.doc_id}/tables/{table.id}/rows",
        }
        if offset + size < len(rows):
            out["nextPageToken"] = str(offset + size)
            out["nextPageLink"] = f"{out['href']}?pageToken={offset + size}"
        return out

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        mutation = MUTATION.match(path)
        if mutation and method == "GET":
            if mutation["id"] not in self.mutations:
                raise ApiFailure(404, "No such mutation request")
            return 200, {"completed": self.mutations[mutation["id"]]}
        match = ROWS.match(path)
        if match is None:
            raise ApiFailure(404, "Not Found")
        if unquote(match["doc"]) != self.doc_id:
            raise ApiFailure(404, f"Could not find a doc with id '{unquote(match['doc'])}'")
        table = self._table(unquote(match["table"]))
        row_ref = unquote(match["row"]) if match["row"] else None
        if row_ref is None and method == "GET":
            return 200, self._list(table, query)
        if row_ref is None and method == "POST":
            return 202, self._upsert(table, body)
        if row_ref is not None and method == "GET":
            row = next((r for r in table.rows if r["id"] == row_ref), None) or next(
                (r for r in table.rows if str(r["values"].get(table.display)) == row_ref), None
            )
            if row is None:
                raise ApiFailure(404, f"Could not find a row with id or name '{row_ref}'")
            return 200, self._row_out(table, row, query.get("useColumnNames") == "true")
        raise ApiFailure(405, "Method Not Allowed")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                path = parts.path.removeprefix("/apis/v1")
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, ApiFailure(400, "The body is not valid JSON").body())
                with fake._lock:
                    fake.requests.append(Request(method, path, query, body))
                    if self.headers.get("Authorization") != f"Bearer {fake.token}":
                        return self._send(401, ApiFailure(401, "Unauthorized").body())
                    try:
                        status, answer = fake._route(method, path, query, body)
                    except ApiFailure as failure:
                        return self._send(failure.status, failure.body())
                self._send(status, answer)

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
