"""A knowledge graph on plain Postgres (`graph_nodes`, `graph_edges`, `get_graph_neighbors`).

Nodes and edges are upserted; node ids are global (the brief's table has `id` as its key), so an
id another client already holds is refused with 409 rather than overwritten. Traversals walk one
breadth-first level per query through `get_graph_neighbors`, keeping only the client's nodes,
which bounds work by depth and answers "why did this happen" with the shortest path.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.errors import Conflict, NotFound

NODE_COLUMNS = "id, client_id, node_type, name, properties, created_at, updated_at"
EDGE_COLUMNS = "id, client_id, source_id, target_id, edge_type, weight, properties, created_at"


def upsert_node(
    conn: psycopg.Connection[Any], client_id: str, node_id: str, node_type: str, name: str, properties: dict[str, Any]
) -> dict[str, Any]:
    row = conn.execute(
        f"""INSERT INTO graph_nodes (id, client_id, node_type, name, properties) VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (id) DO UPDATE SET node_type = excluded.node_type, name = excluded.name,
                   properties = excluded.properties, updated_at = now()
             WHERE graph_nodes.client_id = excluded.client_id
            RETURNING {NODE_COLUMNS}, (xmax = 0) AS created""",
        (node_id, client_id, node_type, name, Jsonb(properties)),
    ).fetchone()
    if row is None:
        raise Conflict(
            "id: this node id is already taken; choose another id",
            details=[{"field": "id", "problem": "already taken"}],
        )
    return row


def _require_nodes(conn: psycopg.Connection[Any], client_id: str, fields: dict[str, str]) -> dict[str, dict]:
    found = {
        r["id"]: r
        for r in conn.execute(
            "SELECT id, node_type, name FROM graph_nodes WHERE client_id = %s AND id = ANY(%s)",
            (client_id, list(fields.values())),
        )
    }
    for field, node_id in fields.items():
        if node_id not in found:
            raise NotFound(
                f"{field}: no node {node_id!r} for this client",
                details=[{"field": field, "problem": "no such node for this client"}],
            )
    return found


def upsert_edge(
    conn: psycopg.Connection[Any],
    client_id: str,
    source_id: str,
    target_id: str,
    edge_type: str,
    weight: float,
    properties: dict[str, Any],
) -> Any:
    _require_nodes(conn, client_id, {"source_id": source_id, "target_id": target_id})
    return conn.execute(
        f"""INSERT INTO graph_edges (client_id, source_id, target_id, edge_type, weight, properties)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (source_id, target_id, edge_type) DO UPDATE
               SET weight = excluded.weight, properties = excluded.properties
            RETURNING {EDGE_COLUMNS}, (xmax = 0) AS created""",
        (client_id, source_id, target_id, edge_type, weight, Jsonb(properties)),
    ).fetchone()


def _level(
    conn: psycopg.Connection[Any], client_id: str, frontier: list[str], edge_types: list[str] | None, direction: str
) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT f.node AS via, n.neighbor_id AS id, n.node_type, n.name, n.edge_type, n.direction, n.weight
             FROM unnest(%s::text[]) AS f(node)
             CROSS JOIN LATERAL get_graph_neighbors(f.node) AS n
             JOIN graph_nodes g ON g.id = n.neighbor_id AND g.client_id = %s
            WHERE (%s::text[] IS NULL OR n.edge_type = ANY(%s::text[]))
              AND (%s = 'both' OR n.direction = %s)
            ORDER BY f.node, n.edge_type, n.neighbor_id""",
        (frontier, client_id, edge_types, edge_types, direction, direction),
    ).fetchall()


def neighbors(
    conn: psycopg.Connection[Any],
    client_id: str,
    entity_id: str,
    *,
    depth: int = 1,
    edge_types: list[str] | None = None,
    direction: str = "both",
    limit: int = 200,
) -> tuple[list[dict[str, Any]], bool]:
    """Edges out to `depth` hops, each with the hop count and the node it was reached from."""
    _require_nodes(conn, client_id, {"entity_id": entity_id})
    visited, frontier, found = {entity_id}, [entity_id], []
    for hop in range(1, depth + 1):
        if not frontier:
            break
        reached = []
        for row in _level(conn, client_id, frontier, edge_types, direction):
            if row["id"] in visited:
                continue
            found.append({**row, "depth": hop})
            reached.append(row["id"])
            if len(found) > limit:
                return found[:limit], True
        visited.update(reached)
        frontier = list(dict.fromkeys(reached))
    return found, False


def shortest_path(
    conn: psycopg.Connection[Any],
    client_id: str,
    source: str,
    target: str,
    *,
    max_depth: int = 6,
    edge_types: list[str] | None = None,
) -> tuple[list[dict], list[dict]] | None:
    """(nodes, edges) along a shortest path ignoring edge direction, or None within `max_depth`."""
    nodes = _require_nodes(conn, client_id, {"from": source, "to": target})
    parent: dict[str, dict | None] = {source: None}
    frontier = [source]
    for _ in range(max_depth):
        if target in parent or not frontier:
            break
        reached = []
        for row in _level(conn, client_id, frontier, edge_types, "both"):
            if row["id"] not in parent:
                parent[row["id"]] = row
                reached.append(row["id"])
        frontier = reached
    if target not in parent:
        return None
    steps, node = [], target
    while parent[node] is not None:
        step = parent[node]
        steps.append(step)
        node = step["via"]
    steps.reverse()
    ids = [source] + [s["id"] for s in steps]
    names = {
        r["id"]: r
        for r in conn.execute(
            "SELECT id, node_type, name FROM graph_nodes WHERE client_id = %s AND id = ANY(%s)", (client_id, ids)
        )
    }
    names.update({k: v for k, v in nodes.items() if k not in names})
    edges = [
        {
            "source_id": s["via"] if s["direction"] == "out" else s["id"],
            "target_id": s["id"] if s["direction"] == "out" else s["via"],
            "edge_type": s["edge_type"],
            "direction": s["direction"],
        }
        for s in steps
    ]
    return [names[i] for i in ids], edges
