"""An SOP's steps must form a DAG: unique keys, known dependencies, no cycles.

`problems` names each fault by its field path (`steps.3.depends_on`), which is both what the
LLM gets in its repair round and what a 422 reports. `order` is a topological order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StepLike(Protocol):
    key: str
    depends_on: list[str]


@dataclass(frozen=True)
class Problem:
    field: str
    problem: str

    def text(self) -> str:
        return f"{self.field}: {self.problem}"


def problems(steps: Sequence[StepLike], prefix: str = "steps") -> list[Problem]:
    found: list[Problem] = []
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step.key in index:
            found.append(Problem(f"{prefix}.{i}.key", f"duplicate key {step.key!r} (also step {index[step.key]})"))
        else:
            index[step.key] = i
    for i, step in enumerate(steps):
        for dep in step.depends_on:
            if dep == step.key:
                found.append(Problem(f"{prefix}.{i}.depends_on", f"step {step.key!r} depends on itself"))
            elif dep not in index:
                found.append(
                    Problem(
                        f"{prefix}.{i}.depends_on",
                        f"step {step.key!r} depends on unknown step {dep!r}; known: {', '.join(index)}",
                    )
                )
    if found:
        return found
    cycle = _find_cycle(steps)
    if cycle:
        first = index[cycle[0]]
        found.append(Problem(f"{prefix}.{first}.depends_on", "dependency cycle " + " -> ".join(cycle)))
    return found


def _find_cycle(steps: Sequence[StepLike]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None; iterative DFS so deep chains cannot overflow the stack."""
    deps = {s.key: list(s.depends_on) for s in steps}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for root in deps:
        if state.get(root):
            continue
        path: list[str] = [root]
        stack = [iter(deps[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(deps[nxt]))
    return None


def order(steps: Sequence[StepLike]) -> list[str]:
    """Keys in an order where every step comes after its dependencies (stable otherwise)."""
    remaining = {s.key: set(s.depends_on) for s in steps}
    done: list[str] = []
    while remaining:
        ready = [k for k, deps in remaining.items() if deps <= set(done)]
        if not ready:
            raise ValueError("the steps contain a cycle; call problems() first")
        for key in ready:
            done.append(key)
            del remaining[key]
    return done
