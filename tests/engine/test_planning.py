"""DAG planning: waves, ranks, the critical path, and cycles (hand cases and hypothesis)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine.planning import Plan, PlanNode, find_cycle, plan
from core.errors import DependencyCycle, UnknownDependency


def nodes_of(
    edges: dict[str, tuple[str, ...]], weights: dict[str, float] | None = None
) -> list[PlanNode]:
    weights = weights or {}
    return [PlanNode(task, deps, weights.get(task, 1.0)) for task, deps in edges.items()]


def test_fan_out_fan_in() -> None:
    result = plan(nodes_of({"a": (), "b": ("a",), "c": ("a",), "d": ("a",), "e": ("b", "c", "d")}))
    assert result.waves == (("a",), ("b", "c", "d"), ("e",))
    assert result.order == ("a", "b", "c", "d", "e")
    assert result.depth == {"a": 0, "b": 1, "c": 1, "d": 1, "e": 2}
    assert result.dependents["a"] == ("b", "c", "d")
    assert result.dependents["e"] == ()


def test_priority_orders_a_wave_then_declaration() -> None:
    nodes = [PlanNode("x", priority=0), PlanNode("y", priority=5), PlanNode("z", priority=0)]
    assert plan(nodes).waves == (("y", "x", "z"),)


def test_critical_path_follows_the_heavy_branch() -> None:
    result = plan(nodes_of({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}, {"c": 5.0}))
    assert result.critical_path == ("a", "c", "d")
    assert result.critical_weight == 7.0
    assert result.rank == {"a": 7.0, "b": 2.0, "c": 6.0, "d": 1.0}


def test_cycle_is_named_in_dependency_direction() -> None:
    nodes = nodes_of({"a": ("c",), "b": ("a",), "c": ("b",), "free": ()})
    assert find_cycle(nodes) == ("a", "c", "b", "a")
    with pytest.raises(DependencyCycle, match="a -> c -> b -> a"):
        plan(nodes)


def test_self_cycle() -> None:
    assert find_cycle([PlanNode("a", ("a",))]) == ("a", "a")


def test_bad_input() -> None:
    with pytest.raises(UnknownDependency, match="'ghost'"):
        plan([PlanNode("a", ("ghost",))])
    with pytest.raises(ValueError, match="negative weight"):
        plan([PlanNode("a", weight=-1)])
    with pytest.raises(ValueError, match="duplicate task id 'a'"):
        plan([PlanNode("a"), PlanNode("a")])


def test_empty_and_duplicate_dependencies() -> None:
    empty = plan([])
    assert (empty.order, empty.waves, empty.critical_path, empty.critical_weight) == (
        (),
        (),
        (),
        0.0,
    )
    assert plan([PlanNode("a"), PlanNode("b", ("a", "a"))]).dependents["a"] == ("b",)


def test_long_chain_and_wide_graph_do_not_recurse() -> None:
    chain = [PlanNode(f"t{i}", (f"t{i - 1}",) if i else ()) for i in range(100_000)]
    assert len(plan(chain).waves) == 100_000
    cyclic = [*chain[1:], PlanNode("t0", ("t99999",))]
    cycle = find_cycle(cyclic)
    assert cycle is not None
    assert len(cycle) == 100_001
    wide = [PlanNode("root"), *(PlanNode(f"w{i}", ("root",)) for i in range(100_000))]
    assert len(plan(wide).waves[1]) == 100_000


@st.composite
def dags(draw: st.DrawFn) -> list[PlanNode]:
    """Random DAGs: edges only point to earlier nodes, then the declaration order is shuffled."""
    size = draw(st.integers(min_value=0, max_value=40))
    nodes = []
    for index in range(size):
        deps = draw(st.lists(st.integers(0, index - 1), max_size=4)) if index else []
        weight = draw(st.floats(min_value=0, max_value=10, allow_nan=False))
        nodes.append(
            PlanNode(f"n{index}", tuple(f"n{d}" for d in deps), weight, draw(st.integers(-2, 2)))
        )
    random.Random(draw(st.integers())).shuffle(nodes)
    return nodes


def edges(nodes: list[PlanNode]) -> set[tuple[str, str]]:
    return {(node.task_id, dep) for node in nodes for dep in node.depends_on}


@settings(max_examples=200, deadline=None)
@given(dags())
def test_random_dags_are_planned_in_dependency_order(nodes: list[PlanNode]) -> None:
    result: Plan = plan(nodes)
    assert sorted(result.order) == sorted(node.task_id for node in nodes)
    position = {task: index for index, task in enumerate(result.order)}
    by_id = {node.task_id: node for node in nodes}
    for node in nodes:
        for dep in node.depends_on:
            assert position[dep] < position[node.task_id]
        expected = 1 + max((result.depth[dep] for dep in node.depends_on), default=-1)
        assert result.depth[node.task_id] == expected
    assert [task for wave in result.waves for task in wave] == list(result.order)
    assert find_cycle(nodes) is None
    if nodes:
        assert result.critical_weight == pytest.approx(max(result.rank.values()))
        path = result.critical_path
        assert all((later, earlier) in edges(nodes) for earlier, later in itertools.pairwise(path))
        assert sum(by_id[task].weight for task in path) == pytest.approx(result.critical_weight)


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_random_cycles_are_reported(nodes: list[PlanNode], data: st.DataObject) -> None:
    if len(nodes) < 1:
        return
    # Plant a cycle: pick a path length, and close it with a back edge.
    chosen = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=5, unique=True))
    ids = [node.task_id for node in chosen]
    planted = {ids[i]: ids[(i + 1) % len(ids)] for i in range(len(ids))}
    cyclic = [
        PlanNode(node.task_id, (*node.depends_on, planted[node.task_id]))
        if node.task_id in planted
        else node
        for node in nodes
    ]
    with pytest.raises(DependencyCycle) as caught:
        plan(cyclic)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    graph = edges(cyclic)
    assert all((cycle[i], cycle[i + 1]) in graph for i in range(len(cycle) - 1))
