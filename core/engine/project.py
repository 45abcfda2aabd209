"""What a project says about itself in ``.uet/`` (written by ``uet init``): the project-wide
patch policy, the broadest level that workstreams and tasks can only tighten, and the sandbox
mode its runs need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.contracts import read_json, registry

PROFILE = Path(".uet") / "project_profile.json"


def project_profile(repo: Path) -> dict[str, Any] | None:
    """``<repo>/.uet/project_profile.json``, validated, or None when the project has none. An
    invalid profile raises DocumentInvalid (exit 2)."""
    path = repo / PROFILE
    if not path.is_file():
        return None
    _, document = read_json(path)
    registry().validate(document, "project_profile.v1", str(path))
    return dict(document)


def project_constraints(repo: Path) -> dict[str, Any] | None:
    """The ``constraints`` (a patch_policy.v1) of the project profile, or None."""
    document = project_profile(repo) or {}
    constraints = document.get("constraints")
    return dict(constraints) if constraints else None


def project_sandbox(repo: Path) -> str | None:
    """The ``sandbox`` mode (auto, required, off) the project profile asks for, or None."""
    mode = (project_profile(repo) or {}).get("sandbox")
    return str(mode) if mode else None
