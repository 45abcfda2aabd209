"""``uet verify``: every commit on a run's integration branch was gated on exactly its tree.

For each commit from the run's base to the head of ``uet/<run>`` (oldest first):

- a patch commit (``Uet-Patch`` trailer) must name a patch of this run that the ledger records
  as committed there, and each blocking gate of its task must have a passing result recorded
  on exactly the commit's tree (``"scope": "patch"`` gates: a passing result for the patch,
  on any tree, since they judge the change and not the tree);
- a revert commit (``uet patch rollback``) undoes a patch and is reported as such;
- anything else is a commit UET did not make.

The trailers are not trusted for the verdict, only to find the patch: the results come from
the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.adapters.git import open_repository, trailers
from core.engine.gates import declared_in
from core.engine.patches.provenance import PATCH_TRAILER, REVERT_TRAILER, RUN_TRAILER
from core.errors import RunNotFound
from core.state import Ledger


@dataclass
class CommitCheck:
    commit: str
    tree: str
    subject: str
    patch_id: str | None
    kind: str  # "patch", "revert" or "foreign"
    gates: dict[str, str] = field(default_factory=dict)  # blocking gate -> how it ended here
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def document(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "tree": self.tree,
            "subject": self.subject,
            "patch_id": self.patch_id,
            "kind": self.kind,
            "gates": self.gates,
            "ok": self.ok,
            "problems": self.problems,
        }


@dataclass
class Verification:
    run_id: str
    branch: str
    head: str | None
    commits: list[CommitCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.commits)

    def document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "branch": self.branch,
            "head": self.head,
            "ok": self.ok,
            "commits": [check.document() for check in self.commits],
        }


def verify_run(ledger: Ledger, run_id: str) -> Verification:
    run = ledger.get_run(run_id)
    if run is None:
        raise RunNotFound(run_id)
    branch = run["integration_branch"]
    if run["repo"] is None or branch is None or not run["base_commit"]:
        return Verification(run_id, "", None, [])
    git = open_repository(Path(run["repo"]))
    head = git.rev_parse(f"refs/heads/{branch}")
    if head is None:
        return Verification(run_id, branch, None, [])
    gates = declared_in(run["workstreams"])
    requests = {task["task_id"]: task["request"] for task in ledger.list_tasks(run_id)}
    patches = {patch["patch_id"]: patch for patch in ledger.list_patches(run_id)}
    out = git.run(
        "log", "--reverse", "--format=%H%x00%T%x00%B%x00", f"{run['base_commit']}..{head}"
    ).stdout.decode("utf-8", "replace")
    parts = out.split("\0")
    checks: list[CommitCheck] = []
    for sha, tree, body in zip(parts[0::3], parts[1::3], parts[2::3], strict=False):
        sha = sha.strip()
        found = trailers(body)
        subject = body.strip().splitlines()[0] if body.strip() else ""
        check = CommitCheck(sha, tree, subject, found.get(PATCH_TRAILER), "foreign")
        checks.append(check)
        if found.get(RUN_TRAILER) != run_id:
            check.problems.append("not made by UET for this run (no Uet-Run trailer naming it)")
            continue
        if REVERT_TRAILER in found:
            check.kind = "revert"
            check.patch_id = found[REVERT_TRAILER]
            continue
        patch = patches.get(check.patch_id or "")
        if patch is None:
            check.problems.append(f"names patch {check.patch_id}, which the ledger does not hold")
            continue
        check.kind = "patch"
        if patch["commit_sha"] not in (None, sha):
            check.problems.append(f"the ledger has patch {patch['patch_id']} at another commit")
        request = requests.get(patch["task_id"], {})
        results = ledger.list_gate_results(patch_id=patch["patch_id"])
        for name in request.get("gates", ()):
            definition = gates.get(name)
            if definition is None or not definition.blocking:
                continue
            on_tree = [r for r in results if r["gate"] == name]
            if definition.scope == "tree":
                on_tree = [r for r in on_tree if r["tree_sha"] == tree]
            if any(r["state"] == "passed" for r in on_tree):
                check.gates[name] = "passed"
                continue
            check.gates[name] = on_tree[-1]["state"] if on_tree else "missing"
            where = "on this tree" if definition.scope == "tree" else "for the patch"
            check.problems.append(f"blocking gate {name!r} has no passing result {where}")
    return Verification(run_id, branch, head, checks)


__all__ = ["CommitCheck", "Verification", "verify_run"]
