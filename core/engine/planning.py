"""DAG planning: topological waves, the critical path, and cycles named when there are any.

Pure and linear in tasks plus dependencies (a 100,000-task bundle plans in well under a second),
iterative throughout so long chains cannot exhaust the stack.

- A task's *wave* is the number of links in its longest chain of dependencies: wave 0 tasks
  depend on nothing, and tasks of one wave can all run side by side.
- A task's *rank* is the heaviest weighted path from it to the end of the graph, its own weight
  included. The scheduler starts high-rank tasks first among equals: long chains begin early.
- The *critical path* is the heaviest path overall; a run cannot finish sooner than its weight.
- A cycle is reported as task ids in which each depends on the next, the first repeated at the
  end: ``a -> b -> a`` reads "a depends on b, which depends on a".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import DependencyCycle, UnknownDependency


@dataclass(frozen=True, slots=True)
class PlanNode:
    task_id: str
    depends_on: tuple[str, ...] = ()
    weight: float = 1.0  # estimated seconds
    priority: int = 0  # higher first within a wave


@dataclass(frozen=True, slots=True)
class Plan:
    order: tuple[str, ...]
    waves: tuple[tuple[str, ...], ...]
    critical_path: tuple[str, ...]
    critical_weight: float
    depth: Mapping[str, int]
    rank: Mapping[str, float]
    dependents: Mapping[str, tuple[str, ...]]


def _index(nodes: Sequence[PlanNode]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, node in enumerate(nodes):
        if node.task_id in index:
            raise ValueError(f"duplicate task id {node.task_id!r}")
        if node.weight < 0:
            raise ValueError(f"task {node.task_id!r} has a negative weight ({node.weight})")
        index[node.task_id] = position
    return index


def _edges(nodes: Sequence[PlanNode], index: Mapping[str, int], strict: bool) -> list[list[int]]:
    """For each node, the positions of its distinct dependencies (unknown ones raise or drop)."""
    edges: list[list[int]] = []
    for node in nodes:
        seen: list[int] = []
        for dep in node.depends_on:
            position = index.get(dep)
            if position is None:
                if strict:
                    raise UnknownDependency(node.task_id, dep)
                continue
            if position not in seen:
                seen.append(position)
        edges.append(seen)
    return edges


def find_cycle(nodes: Sequence[PlanNode]) -> tuple[str, ...] | None:
    """One dependency cycle (each task depends on the next, first repeated), or None.

    Dependencies on unknown tasks are ignored here; :func:`plan` reports them.
    """
    index: dict[str, int] = {}
    for position, node in enumerate(nodes):
        index.setdefault(node.task_id, position)
    edges = _edges(nodes, index, strict=False)
    white, grey, black = 0, 1, 2
    color = [white] * len(nodes)
    for root in range(len(nodes)):
        if color[root] != white:
            continue
        color[root] = grey
        stack: list[list[int]] = [[root, 0]]  # [node, next edge to follow]
        while stack:
            frame = stack[-1]
            current, next_edge = frame
            if next_edge < len(edges[current]):
                frame[1] += 1
                dep = edges[current][next_edge]
                if color[dep] == white:
                    color[dep] = grey
                    stack.append([dep, 0])
                elif color[dep] == grey:  # back edge: the path from dep to here closes a cycle
                    path = [entry[0] for entry in stack]
                    cycle = [*path[path.index(dep) :], dep]
                    return tuple(nodes[position].task_id for position in cycle)
            else:
                color[current] = black
                stack.pop()
    return None


def plan(nodes: Sequence[PlanNode]) -> Plan:
    """Plan ``nodes``; raises UnknownDependency, DependencyCycle, or ValueError (bad input)."""
    index = _index(nodes)
    edges = _edges(nodes, index, strict=True)
    count = len(nodes)
    children: list[list[int]] = [[] for _ in range(count)]
    waiting = [len(deps) for deps in edges]
    for position, deps in enumerate(edges):
        for dep in deps:
            children[dep].append(position)

    # Kahn's algorithm, one wave at a time: a task becomes free in the wave after its
    # last dependency, which is exactly its longest-chain depth.
    depth = [0] * count
    waves: list[list[int]] = []
    frontier = [position for position in range(count) if waiting[position] == 0]
    while frontier:
        frontier.sort(key=lambda position: (-nodes[position].priority, position))
        waves.append(frontier)
        following: list[int] = []
        for position in frontier:
            for child in children[position]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    depth[child] = len(waves)
                    following.append(child)
        frontier = following
    order = [position for wave in waves for position in wave]
    if len(order) < count:
        raise DependencyCycle(find_cycle(nodes) or ())

    rank = [0.0] * count
    for position in reversed(order):
        heaviest = max((rank[child] for child in children[position]), default=0.0)
        rank[position] = nodes[position].weight + heaviest

    path: list[int] = []
    if count:
        current = min(range(count), key=lambda position: (-rank[position], position))
        path.append(current)
        while children[current]:
            rest = rank[current] - nodes[current].weight
            successors = [
                c for c in children[current] if abs(rank[c] - rest) <= 1e-9 * max(1.0, rest)
            ]
            if not successors:
                break
            current = min(successors)
            path.append(current)

    def ids(positions: Sequence[int]) -> tuple[str, ...]:
        return tuple(nodes[position].task_id for position in positions)

    return Plan(
        order=ids(order),
        waves=tuple(ids(wave) for wave in waves),
        critical_path=ids(path),
        critical_weight=rank[path[0]] if path else 0.0,
        depth={nodes[position].task_id: depth[position] for position in range(count)},
        rank={nodes[position].task_id: rank[position] for position in range(count)},
        dependents={
            nodes[position].task_id: ids(sorted(children[position])) for position in range(count)
        },
    )
