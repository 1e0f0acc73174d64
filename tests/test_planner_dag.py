"""DAG validation of SOP steps, by property: every DAG passes and orders; every fault is named."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from steward.planner import adapt, critic, dag
from steward.planner.models import ProcessTemplateIn, Sop


@dataclass
class S:
    key: str
    depends_on: list[str] = field(default_factory=list)


@st.composite
def dags(draw):
    """Random DAGs: each step may depend only on earlier steps, then the list is shuffled."""
    n = draw(st.integers(1, 25))
    steps = []
    for i in range(n):
        earlier = [f"k{j}" for j in range(i)]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=4)) if earlier else []
        steps.append(S(f"k{i}", deps))
    return draw(st.permutations(steps))


@given(dags())
def test_every_dag_is_valid_and_ordered_after_its_dependencies(steps):
    assert dag.problems(steps) == []
    order = dag.order(steps)
    position = {k: i for i, k in enumerate(order)}
    assert sorted(order) == sorted(s.key for s in steps)
    assert all(position[d] < position[s.key] for s in steps for d in s.depends_on)


@given(dags(), st.data())
def test_a_back_edge_is_reported_as_a_cycle(steps, data):
    by_key = {s.key: s for s in steps}
    chains = [s for s in steps if s.depends_on]
    if not chains:
        return
    child = data.draw(st.sampled_from(chains))
    parent = by_key[child.depends_on[0]]
    parent.depends_on = [*parent.depends_on, child.key]  # parent -> child -> parent
    found = dag.problems(steps)
    assert len(found) == 1 and "dependency cycle" in found[0].problem
    cycle = found[0].problem.removeprefix("dependency cycle ").split(" -> ")
    assert cycle[0] == cycle[-1] and len(cycle) >= 3
    for a, b in zip(cycle, cycle[1:], strict=False):
        assert b in by_key[a].depends_on


def test_unknown_self_and_duplicate_keys_are_named_by_field():
    steps = [S("a"), S("b", ["a", "ghost"]), S("a"), S("c", ["c"])]
    assert [(p.field, p.problem.split(" (")[0]) for p in dag.problems(steps)] == [
        ("steps.2.key", "duplicate key 'a'"),
        ("steps.1.depends_on", "step 'b' depends on unknown step 'ghost'; known: a, b, c"),
        ("steps.3.depends_on", "step 'c' depends on itself"),
    ]


def test_a_long_chain_does_not_overflow():
    steps = [S(f"k{i}", [f"k{i + 1}"] if i < 4999 else []) for i in range(5000)]
    assert dag.problems(steps) == []
    steps[-1].depends_on = ["k0"]
    assert "dependency cycle" in dag.problems(steps)[0].problem


def test_a_template_without_keys_or_dependencies_becomes_a_sequence():
    template = ProcessTemplateIn.model_validate(
        {
            "name": "Close",
            "steps": [{"title": "Collect receipts"}, {"title": "Collect receipts"}, {"title": "Réconcile & report!"}],
        }
    )
    sop = adapt.from_template("Close the books", template, 0.9)
    assert [(s.key, s.depends_on) for s in sop.steps] == [
        ("collect_receipts", []),
        ("collect_receipts_2", ["collect_receipts"]),
        ("reconcile_report", ["collect_receipts_2"]),
    ]


def test_the_critic_measures_the_critical_path():
    sop = Sop.model_validate(
        {
            "title": "t",
            "steps": [
                {"key": "a", "title": "A", "estimate_minutes": 600, "deliverable": "x"},
                {"key": "b", "title": "B", "estimate_minutes": 60, "depends_on": ["a"], "deliverable": "y"},
                {"key": "c", "title": "C", "estimate_minutes": 30, "depends_on": ["a"]},
            ],
        }
    )
    assert critic.critical_path_minutes(sop) == 660
    notes = critic.review(sop)
    assert any("'a'" in n and "split" in n for n in notes) and any("'c' names no deliverable" in n for n in notes)
