"""`uet init`: discovery -> selection -> generation -> validation -> report.

Files are written only when they are new, unchanged since init last wrote them, or ``force``
is given: init remembers the sha256 of each file it wrote (in the report) and a file that no
longer has it was edited by someone, so it is kept and reported ``kept_user_edit`` (or
``would_change`` when its content would differ). ``dry_run`` writes nothing.

Status: ``ready`` (every check passed), ``partial`` (usable, with warnings: a gate left out,
no agent tool found, not a git repository yet, a low-confidence or ``generic`` choice ...),
``needs_human`` (edited files block an update), ``failed`` (a generated file is invalid or
cannot be written).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core import clock
from core.bootstrap import generation as gen
from core.bootstrap.discovery import Discovery, discover, language_of, languages
from core.bootstrap.profiles import Profile, get_profile, load_profiles
from core.bootstrap.selection import Selection, select
from core.contracts import issues as schema_issues
from core.engine.bundle import check_bundle
from core.engine.gates.probe import layout
from core.engine.routing.config import check_router
from core.errors import DocumentInvalid

log = logging.getLogger(__name__)

REPORT = ".uet/bootstrap_report.json"
LOW_CONFIDENCE = 0.5  # below it, the choice is reported as uncertain


@dataclass
class Check:
    check: str
    status: str  # ok | warning | error
    message: str = ""
    fixed: bool = False

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"check": self.check, "status": self.status}
        if self.message:
            doc["message"] = self.message
        if self.fixed:
            doc["fixed"] = True
        return doc


@dataclass
class InitResult:
    report: dict[str, Any]
    discovery: Discovery
    selection: Selection
    checks: list[Check] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)  # path -> what --force would change

    @property
    def status(self) -> str:
        return str(self.report["status"])

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("ready", "partial") else 1


def init_project(
    root: Path,
    *,
    profile_id: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    probe_versions: bool = True,
) -> InitResult:
    discovery = _without_own_files(discover(root, probe_versions=probe_versions))
    root = discovery.root
    profiles = load_profiles()
    if profile_id is not None and profile_id not in profiles:
        get_profile(profile_id)  # UnknownProfile, with the nearest id
    shares = {lang.name: lang.share for lang in discovery.languages if lang.share}
    selection = select(
        profiles, discovery.paths, shares, language_of, discovery.sizes, forced=profile_id
    )
    profile = profiles[selection.profile_id]
    checks: list[Check] = []
    planned = _plan(root, discovery, selection, profile, checks)
    checks.extend(_validate(planned))
    previous = _previous_hashes(root)
    artifacts = []
    for item in planned:
        artifact, error = _write(root, item, previous, force, dry_run)
        artifacts.append(artifact)
        if error:
            checks.append(Check(f"write {item.path}", "error", error))
    gitignore = _gitignore(root, dry_run)
    if gitignore:
        checks.append(Check("gitignore", "ok", gitignore, fixed=True))
    checks.extend(_consistency(discovery, selection, planned, artifacts))
    status = _status(checks, artifacts, selection)
    report = {
        "schema_version": "bootstrap_report.v1",
        "status": status,
        "root": str(root),
        "discovery": discovery.document(),
        "selection": selection.document(),
        "artifacts": artifacts,
        "checks": [check.document() for check in checks],
        "next_steps": _next_steps(status, discovery, artifacts, planned),
        "generated_at": clock.now(),
    }
    if not dry_run:
        target = root / REPORT
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(gen.dumps(report), encoding="utf-8")
        except OSError as exc:  # a file where .uet/ should be: the checks already say so
            log.warning("cannot write %s: %s", target, exc.strerror)
    diffs = {
        item.path: _diff(root / item.path, item.content)
        for item, artifact in zip(planned, artifacts, strict=True)
        if artifact["action"] == "would_change" and artifact["valid"]
    }
    return InitResult(report, discovery, selection, checks, diffs)


def _without_own_files(discovery: Discovery) -> Discovery:
    """What discovery found, less the files init writes (a rerun must see the same project)."""
    own = {gen.STARTER, ".gitignore"}
    if not own & set(discovery.sizes):
        return discovery
    sizes = {path: size for path, size in discovery.sizes.items() if path not in own}
    return replace(
        discovery,
        languages=languages(sizes),
        paths=tuple(path for path in discovery.paths if path not in own),
        sizes=sizes,
    )


# -- generation ----------------------------------------------------------------------------------


def _plan(
    root: Path, discovery: Discovery, selection: Selection, profile: Profile, checks: list[Check]
) -> list[gen.Planned]:
    found = gen.found_tools(discovery.tools)
    markers = [marker.name for marker in discovery.markers]
    gates, left_out = gen.gates_for(
        profile.document.get("default_gates", {}),
        found,
        markers,
        _npm_scripts(root) + _make_targets(root),
    )
    for why in left_out:
        checks.append(Check("gate executables", "warning", why))
    gates, notes = gen.run_from_copy(gates, layout(root))
    for note in notes:
        checks.append(Check("gate isolation", "ok", note))
    project = root.name or "project"
    document = gen.project_document(
        project=project,
        profile=profile.document,
        languages=discovery.document()["languages"],
        tools=[t for t in discovery.document()["tools"] if t["found"]],
        gates=gates,
        paths=_paths(discovery),
        overrides=selection.overrides,
    )
    router = gen.router_for(profile.document.get("router_rules", []), found)
    planned = [
        gen.Planned(gen.PROJECT_PROFILE, gen.dumps(document), "project_profile.v1"),
        gen.Planned(gen.ROUTER_CONFIG, gen.dumps(router), "router_config.v1"),
    ]
    for phase_id, phase in sorted(gen.phase_documents(profile.phases, gates).items()):
        planned.append(
            gen.Planned(f".uet/phases/{phase_id}.json", gen.dumps(phase), "phase_spec.v1")
        )
    bundle = gen.starter_bundle(project, gates)
    planned.append(gen.Planned(gen.STARTER, gen.dumps(bundle), "workstream_spec.v1"))
    return planned


def _npm_scripts(root: Path) -> list[str]:
    try:
        package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    scripts = package.get("scripts") if isinstance(package, dict) else None
    return list(scripts) if isinstance(scripts, dict) else []


def _make_targets(root: Path) -> list[str]:
    """The targets of the root Makefile, as ``make:<target>``."""
    try:
        text = (root / "Makefile").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [f"make:{m[1]}" for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M)]


_TEST_FOLDERS = frozenset({"tests", "test", "spec", "__tests__"})
_DOC_FOLDERS = frozenset({"docs", "doc", "documentation"})
_NOT_SOURCE = frozenset({"workstreams", "examples", "scripts"})


def _paths(discovery: Discovery) -> dict[str, list[str]]:
    """Top-level folders of tests, of docs, and of source (any other holding code)."""
    code: dict[str, bool] = {}
    for path in discovery.paths:
        top, sep, _ = path.partition("/")
        if sep and not code.get(top):
            code[top] = language_of(path) not in (None, "Markdown")
    tops = sorted(code)
    source = [
        top
        for top, has_code in code.items()
        if has_code
        and not top.startswith(".")
        and top not in _TEST_FOLDERS | _DOC_FOLDERS | _NOT_SOURCE
    ]
    return {
        "source": sorted(source)[:10],
        "tests": [top for top in tops if top in _TEST_FOLDERS],
        "docs": [top for top in tops if top in _DOC_FOLDERS],
    }


# -- validation ----------------------------------------------------------------------------------


def _validate(planned: list[gen.Planned]) -> list[Check]:
    checks = []
    for item in planned:
        document = json.loads(item.content)
        problems = schema_issues(document, item.schema, item.path) if item.schema else []
        try:
            if item.schema == "router_config.v1" and not problems:
                check_router(document, item.path)
            if item.schema == "workstream_spec.v1" and not problems:
                check_bundle(document, path=None, text=item.content)
        except DocumentInvalid as exc:
            problems = list(exc.issues)
        if problems:
            shown = "; ".join(f"{p.path}: {p.message}" for p in problems[:3])
            checks.append(Check(f"schema {item.path}", "error", shown))
        else:
            checks.append(Check(f"schema {item.path}", "ok"))
    return checks


def _consistency(
    discovery: Discovery,
    selection: Selection,
    planned: list[gen.Planned],
    artifacts: list[dict[str, Any]],
) -> list[Check]:
    checks = []
    found = gen.found_tools(discovery.tools)
    router = json.loads(next(p.content for p in planned if p.path == gen.ROUTER_CONFIG))
    if router["tools"]:
        checks.append(Check("router tools on PATH", "ok", ", ".join(router["tools"])))
    else:
        checks.append(
            Check(
                "router tools on PATH",
                "warning",
                "no agent CLI or codemod found (claude, codex, aider, ruff, prettier)",
            )
        )
    profile = json.loads(next(p.content for p in planned if p.path == gen.PROJECT_PROFILE))
    if not profile["gates"]:
        checks.append(
            Check("gates", "warning", "no gate can run here: install the profile's tools")
        )
    for group, folders in profile["paths"].items():
        missing = [f for f in folders if not (discovery.root / f).is_dir()]
        if missing:
            checks.append(Check(f"paths {group}", "error", "missing: " + ", ".join(missing)))
    if not discovery.git.is_repo:
        checks.append(
            Check(
                "git",
                "warning",
                "not a git repository: `git init` before `uet run` of tasks that change files",
            )
        )
    elif not discovery.git.commits:
        checks.append(
            Check("git", "warning", "the repository has no commit yet: commit before `uet run`")
        )
    if "git" not in found:
        checks.append(Check("git", "warning", "git is not on PATH"))
    if selection.confidence == 0 and not selection.forced:
        checks.append(
            Check(
                "profile",
                "warning",
                "nothing identified the project: generic chosen; pass --profile ID to choose one",
            )
        )
    elif not selection.forced and selection.confidence < LOW_CONFIDENCE:
        checks.append(
            Check(
                "profile",
                "warning",
                f"{selection.profile_id} chosen with low confidence "
                f"{selection.confidence:.2f}; pass --profile ID to choose",
            )
        )
    return checks


def _status(checks: list[Check], artifacts: list[dict[str, Any]], selection: Selection) -> str:
    if any(c.status == "error" for c in checks):
        return "failed"
    if any(a["action"] == "would_change" for a in artifacts):
        return "needs_human"
    if any(c.status == "warning" for c in checks):
        return "partial"
    return "ready"


def _next_steps(
    status: str, discovery: Discovery, artifacts: list[dict[str, Any]], planned: list[gen.Planned]
) -> list[str]:
    steps = []
    edited = [a["path"] for a in artifacts if a["action"] == "would_change"]
    if edited:
        steps.append(
            f"you edited {', '.join(edited)}: review and rerun `uet init --force` to replace them"
        )
    if not discovery.git.is_repo:
        steps.append("git init && git add -A && git commit -m 'start'")
    gates = json.loads(next(p.content for p in planned if p.path == gen.PROJECT_PROFILE))["gates"]
    if gates:
        steps.append("uet gate run                      # the project's gates, now")
    else:
        steps.append("install the tools of the profile's gates (see the warnings), then `uet init`")
    steps.append(f"uet run {gen.STARTER}   # the gates as a run, in the ledger")
    steps.append("uet tools                         # the agent CLIs and codemods routed to")
    return steps


# -- writing -------------------------------------------------------------------------------------


def _sha(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _previous_hashes(root: Path) -> dict[str, str]:
    """What init last wrote (path -> sha256), from the previous report."""
    try:
        report = json.loads((root / REPORT).read_text(encoding="utf-8"))
        return {a["path"]: a["sha256"] for a in report.get("artifacts", []) if a.get("sha256")}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _write(
    root: Path, item: gen.Planned, previous: Mapping[str, str], force: bool, dry_run: bool
) -> tuple[dict[str, Any], str | None]:
    """Write one file unless someone edited it since init did; (its artifact, an error)."""
    target = root / item.path
    new_sha = _sha(item.content)
    action = "created"
    try:
        if target.is_file():
            current = target.read_text(encoding="utf-8", errors="replace")
            current_sha = _sha(current)
            if _same_but_time(current, item.content):
                return _artifact(item, "unchanged", current_sha), None
            if previous.get(item.path) != current_sha and not force:
                # Remember what init wrote, not the edit: the next run must still see it.
                return _artifact(item, "would_change", previous.get(item.path)), None
            action = "updated"
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(item.content, encoding="utf-8")
    except OSError as exc:
        where = exc.filename or target
        return _artifact(
            item, "would_change", None, valid=False
        ), f"cannot write it: {where}: {exc.strerror}"
    return _artifact(item, action, new_sha), None


def _diff(path: Path, new: str) -> str:
    current = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(
        current, new.splitlines(keepends=True), f"{path.name} (yours)", f"{path.name} (uet init)"
    )
    return "".join(lines)


def _same_but_time(current: str, new: str) -> bool:
    """Equal once the generation time is set aside (rerunning init changes nothing else)."""
    try:
        old_doc, new_doc = json.loads(current), json.loads(new)
    except ValueError:
        return current == new
    if isinstance(old_doc, dict) and isinstance(new_doc, dict):
        old_doc.pop("generated_at", None)
        new_doc.pop("generated_at", None)
    return bool(old_doc == new_doc)


def _artifact(
    item: gen.Planned, action: str, sha: str | None, *, valid: bool = True
) -> dict[str, Any]:
    return {
        "path": item.path,
        "schema": item.schema,
        "action": action,
        "sha256": sha,
        "valid": valid,
    }


def _gitignore(root: Path, dry_run: bool) -> str:
    path = root / ".gitignore"
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError):
        return ""
    missing = gen.gitignore_lines(current)
    if not missing:
        return ""
    if not dry_run:
        prefix = "" if not current or current.endswith("\n") else "\n"
        path.write_text(
            current + prefix + "# uet\n" + "".join(f"{line}\n" for line in missing),
            encoding="utf-8",
        )
    return "added to .gitignore: " + ", ".join(missing)
