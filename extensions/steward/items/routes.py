"""`/api/v1/items`: list, read and (for the operator) change items.

Changes go through `store.update_item` with source "api", so they bump the version and reach
Todoist like any other change. Tombstoned items are gone from here: 404 on read, 409 on change.
"""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import ApiError, NotFound, ValidationFailed
from steward.items import store
from steward.items.models import ItemDetail, ItemLookup, ItemOut, ItemPatch, ItemsPage, ItemsQuery, LinkOut

bp = Blueprint("items", __name__, url_prefix="/api/v1/items")


def _detail(item: dict, client_id: str) -> ItemDetail:
    links = [LinkOut.model_validate(link) for link in store.links_of(get_db(), client_id, item["id"])]
    return ItemDetail(**ItemOut.model_validate(item).model_dump(), links=links)


@endpoint(
    bp,
    "",
    methods=["GET"],
    scope="read",
    summary="List items, most recently updated first",
    query=ItemsQuery,
    response=ItemsPage,
)
def list_items(query: ItemsQuery):
    try:
        rows, next_cursor = store.list_items(
            get_db(),
            query.client_id,
            type=query.type,
            status=query.status,
            q=query.q,
            limit=query.limit,
            cursor=query.cursor,
        )
    except ValueError:
        raise ValidationFailed.field("cursor", "not a cursor from this API; pass next_cursor unchanged") from None
    return ItemsPage(items=[ItemOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@endpoint(
    bp,
    "/<uuid:item_id>",
    methods=["GET"],
    scope="read",
    summary="One item with its links",
    query=ItemLookup,
    response=ItemDetail,
)
def get_item(item_id: UUID, query: ItemLookup):
    item = store.get_item(get_db(), item_id, query.client_id)
    if item is None:
        raise NotFound(f"no item {item_id} for client {query.client_id}")
    return _detail(item, query.client_id)


@endpoint(
    bp,
    "/<uuid:item_id>",
    methods=["PATCH"],
    scope="write",
    summary="Change an item's fields or status",
    body=ItemPatch,
    response=ItemDetail,
    responses={409: "expected_version is not the current version, or the item was deleted"},
)
def patch_item(item_id: UUID, body: ItemPatch):
    conn = get_db()
    current = store.require_item(conn, item_id, body.client_id, lock=True)
    if body.expected_version is not None and current["version"] != body.expected_version:
        raise ApiError(
            f"item {item_id} is at version {current['version']}, not {body.expected_version}; reload it and retry",
            status=409,
            code="version_conflict",
            details=[{"field": "expected_version", "problem": f"current version is {current['version']}"}],
        )
    item = store.update_item(conn, item_id, body.client_id, body.changes(), source="api")
    return _detail(item, body.client_id)
