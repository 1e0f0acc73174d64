"""The vocabularies of items, shared by the store, the API models and the chat's action models."""

from __future__ import annotations

from typing import Literal

ItemType = Literal["task", "note", "idea", "event", "person", "project"]
ItemStatus = Literal["inbox", "active", "done", "dropped"]
Priority = Literal["p1", "p2", "p3", "p4"]
LinkType = Literal["relates_to", "part_of", "blocks", "about_person"]
OPEN_STATUSES = ("inbox", "active")
