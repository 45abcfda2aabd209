"""What a project says about itself in ``.uet/`` (written by ``uet init``): today, the
project-wide patch policy, the broadest level that workstreams and tasks can only tighten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.contracts import read_json, registry

PROFILE = Path(".uet") / "project_profile.json"


def project_constraints(repo: Path) -> dict[str, Any] | None:
    """The ``constraints`` (a patch_policy.v1) of ``<repo>/.uet/project_profile.json``, or None
    when the project has no profile. An invalid profile raises DocumentInvalid (exit 2)."""
    path = repo / PROFILE
    if not path.is_file():
        return None
    _, document = read_json(path)
    registry().validate(document, "project_profile.v1", str(path))
    constraints = document.get("constraints")
    return dict(constraints) if constraints else None
