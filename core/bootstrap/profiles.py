"""Domain profiles: ``profiles/<id>/profile.json`` (profile.v1) and its phase templates.

A profile says what a kind of repository looks like (detection markers, language weights),
which gates check it, the patch policy and budgets its work starts from, how its task kinds are
routed, and which phases of work it knows (``phase_templates/<phase>.json``, phase_spec.v1).

:func:`load_profiles` reads every profile of a folder and checks each file against its schema,
then against the rest of the profile: the id is the folder's name, every listed phase has its
file and every file is listed, phases name only the profile's gates and task kinds, routing
rules only its task kinds. One :class:`ProfilesInvalid` lists every problem of every file.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.contracts import read_json, registry
from core.errors import DocumentInvalid, InvalidInput, Issue
from core.resources import data_dir

log = logging.getLogger(__name__)

PROFILE_FILE = "profile.json"
PHASES_DIR = "phase_templates"
PROFILES_ENV = "UET_PROFILES"  # a folder of profiles to use instead of the shipped one
_UNREADABLE = object()  # what _read returns for a file that is not JSON


class UnknownProfile(InvalidInput):
    """No profile has this id; the message suggests the closest one."""

    code = "UET110"

    def __init__(self, profile_id: str, known: Sequence[str] = ()) -> None:
        self.profile_id = profile_id
        self.known = tuple(known)
        super().__init__(f"unknown profile {profile_id!r} ({_known(profile_id, self.known)})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.profile_id, self.known))


class ProfilesInvalid(DocumentInvalid):
    """Problems in a folder of profiles. They span several files, so each line names its file
    (``software-dev-python/phase_templates/tests.json: $.gates[0]: ...``)."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        super().__init__(source, issues)
        heading = self.message.splitlines()[0]
        self.message = "\n".join([heading, *(f"  {issue}" for issue in self.issues)])
        self.args = (self.message,)


@dataclass(frozen=True)
class Marker:
    """A glob whose presence in a repository counts ``weight`` towards a profile."""

    glob: str
    weight: float
    reason: str = ""


@dataclass(frozen=True)
class Profile:
    """One checked profile: its document, its phase templates by id (in the profile's order)
    and the folder they came from. The properties return copies, safe to change."""

    id: str
    document: Mapping[str, Any]
    phases: Mapping[str, Mapping[str, Any]]
    path: Path

    @property
    def name(self) -> str:
        return str(self.document["name"])

    @property
    def domain(self) -> str:
        return str(self.document["domain"])

    @property
    def description(self) -> str:
        return str(self.document.get("description", ""))

    @property
    def resource_types(self) -> tuple[str, ...]:
        return tuple(self.document["resource_types"])

    @property
    def task_kinds(self) -> tuple[str, ...]:
        return tuple(self.document["task_kinds"])

    @property
    def default_gates(self) -> dict[str, dict[str, Any]]:
        """Gate name -> gate definition (gate_result.v1#/$defs/gate_definition)."""
        return copy.deepcopy(dict(self.document["default_gates"]))

    @property
    def markers(self) -> tuple[Marker, ...]:
        found = self.document.get("detection", {}).get("markers", [])
        return tuple(Marker(m["glob"], float(m["weight"]), m.get("reason", "")) for m in found)

    @property
    def languages(self) -> dict[str, float]:
        """Language name -> weight per unit of its share of the code."""
        weights = self.document.get("detection", {}).get("languages", {})
        return {name: float(weight) for name, weight in weights.items()}

    @property
    def router_rules(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.document.get("router_rules", [])))

    @property
    def patch_policy(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.document.get("patch_policy", {})))

    @property
    def budgets(self) -> dict[str, Any]:
        return dict(self.document.get("budgets", {}))

    @property
    def phase_ids(self) -> tuple[str, ...]:
        return tuple(self.phases)


def profiles_dir() -> Path:
    """The folder of profiles: ``$UET_PROFILES`` if set, else the shipped ``profiles/`` (next
    to ``core/`` in a source checkout, inside the package in a wheel)."""
    override = os.environ.get(PROFILES_ENV)
    return Path(override).expanduser() if override else data_dir("profiles")


def load_profiles(folder: Path | None = None) -> dict[str, Profile]:
    """Every profile under ``folder`` (default :func:`profiles_dir`), by id, checked.

    Each sub-folder is one profile (folders starting with ``.`` or ``_`` are skipped). Raises
    :class:`ProfilesInvalid` listing every problem, each with its file and JSON path."""
    root = folder if folder is not None else profiles_dir()
    if not root.is_dir():
        raise ProfilesInvalid(str(root), [Issue("$", "not a folder of profiles")])
    problems: list[Issue] = []
    found: dict[str, Profile] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith((".", "_")):
            profile = _load_profile(entry, root, problems)
            if profile is not None:
                found[profile.id] = profile
    if problems:
        raise ProfilesInvalid(str(root), problems)
    log.debug("loaded %s profiles from %s", len(found), root)
    return found


def get_profile(profile_id: str, folder: Path | None = None) -> Profile:
    """The profile ``profile_id``; :class:`UnknownProfile` (did you mean ...?) if none has it."""
    found = load_profiles(folder)
    try:
        return found[profile_id]
    except KeyError:
        raise UnknownProfile(profile_id, list(found)) from None


# -- loading one profile ----------------------------------------------------------------------


def _load_profile(folder: Path, root: Path, problems: list[Issue]) -> Profile | None:
    """The profile in ``folder``, or None after adding its problems to ``problems``."""
    before = len(problems)
    path = folder / PROFILE_FILE
    source = _source(path, root)
    if not path.is_file():
        problems.append(Issue("$", f"missing: every profile folder holds a {PROFILE_FILE}", source))
        return None
    document = _read(path, source, problems)
    if document is _UNREADABLE:
        return None
    schema_problems = registry().issues(document, "profile.v1", source)
    problems.extend(schema_problems)
    valid = not schema_problems
    if valid:
        problems.extend(_profile_meaning(document, folder.name, source))
    listed: list[str] = list(document.get("phase_templates", [])) if valid else []
    files = {file.stem: file for file in sorted((folder / PHASES_DIR).glob("*.json"))}
    for index, phase_id in enumerate(listed):
        if phase_id not in files:
            message = f"no file {PHASES_DIR}/{phase_id}.json for this phase"
            problems.append(Issue(f"$.phase_templates[{index}]", message, source))
    phases: dict[str, Any] = {}
    for stem, phase_path in files.items():
        if valid and stem not in listed:
            message = f"{PHASES_DIR}/{stem}.json is not listed here"
            problems.append(Issue("$.phase_templates", message, source))
        phases[stem] = _load_phase(phase_path, root, document if valid else None, problems)
    if len(problems) > before:
        return None
    ordered = {phase_id: phases[phase_id] for phase_id in listed}
    return Profile(document["profile_id"], document, ordered, folder)


def _load_phase(
    path: Path, root: Path, profile: Mapping[str, Any] | None, problems: list[Issue]
) -> Any:
    source = _source(path, root)
    phase = _read(path, source, problems)
    if phase is _UNREADABLE:
        return None
    schema_problems = registry().issues(phase, "phase_spec.v1", source)
    problems.extend(schema_problems)
    if not schema_problems:
        problems.extend(_phase_meaning(phase, path.stem, profile, source))
    return phase


def _profile_meaning(document: Mapping[str, Any], folder: str, source: str) -> Iterator[Issue]:
    if document["profile_id"] != folder:
        message = f"{document['profile_id']!r} is not the name of its folder {folder!r}"
        yield Issue("$.profile_id", message, source)
    kinds = document["task_kinds"]
    for index, rule in enumerate(document.get("router_rules", [])):
        matched = rule.get("match", {}).get("kind", [])
        where = f"$.router_rules[{index}].match.kind"
        yield from _unknown(where, matched, kinds, "task kind", source)


def _phase_meaning(
    phase: Mapping[str, Any], stem: str, profile: Mapping[str, Any] | None, source: str
) -> Iterator[Issue]:
    if phase["phase_id"] != stem:
        message = f"{phase['phase_id']!r} is not the name of its file {stem}.json"
        yield Issue("$.phase_id", message, source)
    if profile is None:  # the profile itself is broken: nothing to check names against
        return
    yield from _unknown("$.gates", phase.get("gates", []), profile["default_gates"], "gate", source)
    kinds = profile["task_kinds"]
    yield from _unknown("$.task_kinds", phase.get("task_kinds", []), kinds, "task kind", source)


def _unknown(
    where: str, names: Iterable[str], known: Iterable[str], noun: str, source: str
) -> Iterator[Issue]:
    known = list(known)
    for index, name in enumerate(names):
        if name not in known:
            listing = _known(name, known, f"the profile's {noun}s")
            message = f"unknown {noun} {name!r} ({listing})"
            yield Issue(f"{where}[{index}]", message, source)


def _known(name: str, known: Sequence[str], lead: str = "known") -> str:
    # A near miss ('software-dev-pyhton'), else a known id containing the name ('python').
    hint = difflib.get_close_matches(name, known, n=1) or [k for k in known if name in k][:1]
    suggestion = f"did you mean {hint[0]!r}? " if hint else ""
    return f"{suggestion}{lead}: {', '.join(known) or 'none'}"


def _read(path: Path, source: str, problems: list[Issue]) -> Any:
    """The JSON document at ``path``, or _UNREADABLE after adding why to ``problems``."""
    try:
        return read_json(path)[1]
    except DocumentInvalid as exc:
        problems.extend(Issue(issue.path, issue.message, source) for issue in exc.issues)
        return _UNREADABLE


def _source(path: Path, root: Path) -> str:
    """``path`` as shown in problems: relative to the folder of profiles, POSIX."""
    return path.relative_to(root).as_posix()
