"""Dependency order: a deterministic topological sort that names a cycle when there is one."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def topological(ids: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """`ids` ordered so every task follows its dependencies; ties keep input order (Kahn's algorithm)."""
    position = {task_id: i for i, task_id in enumerate(ids)}
    waiting = {task_id: len(set(deps.get(task_id, ()))) for task_id in ids}
    dependents: dict[str, list[str]] = {task_id: [] for task_id in ids}
    for task_id in ids:
        for dep in set(deps.get(task_id, ())):
            dependents[dep].append(task_id)
    ready = [position[t] for t in ids if waiting[t] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        task_id = ids[heapq.heappop(ready)]
        order.append(task_id)
        for child in dependents[task_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    if len(order) < len(ids):
        raise CycleError(_find_cycle([t for t in ids if waiting[t] > 0], deps))
    return order


def _find_cycle(stuck: list[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle among the tasks Kahn's algorithm could not order, starting at the first in input order."""
    remaining = set(stuck)
    node = stuck[0]
    seen: dict[str, int] = {}
    path: list[str] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min((d for d in deps.get(node, ()) if d in remaining), key=stuck.index)
    cycle = path[seen[node] :]
    start = min(range(len(cycle)), key=lambda i: stuck.index(cycle[i]))
    cycle = cycle[start:] + cycle[:start]
    return cycle + [cycle[0]]


def ancestors(task_id: str, deps: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(deps.get(task_id, ()))
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(deps.get(dep, ()))
    return seen
