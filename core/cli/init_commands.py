"""`uet init` (bootstrap a project from a domain profile) and `uet profiles` (the profiles it
chooses from, listed and shown in full)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from core.bootstrap.init import InitResult, init_project
from core.bootstrap.profiles import Profile, get_profile, load_profiles, profiles_dir
from core.cli.common import json_option
from core.cli.output import echo_json, styled_state, table


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def profiles(ctx: click.Context, as_json: bool) -> None:
    """List the domain profiles `uet init` chooses from: each one's domain, task kinds,
    default gates and phase templates. Profiles are read from the profiles/ folder shipped
    with uet (env UET_PROFILES: another folder) and checked against their schemas.

    \b
    Examples:
      uet profiles
      uet profiles --json
      uet profiles show software-dev-python
    """
    if ctx.invoked_subcommand is not None:
        return
    found = load_profiles()
    if as_json:
        echo_json([_summary(profile) for profile in found.values()])
        return
    for profile in found.values():
        click.echo(f"{click.style(profile.id, bold=True)}  {profile.name}")
        gates = ", ".join(profile.default_gates) or "none"
        kinds = len(profile.task_kinds)
        click.echo(f"  domain {profile.domain} · {kinds} task kinds · gates: {gates}")
        click.echo(f"  phases: {', '.join(profile.phase_ids) or 'none'}")
    click.echo(f"\n{len(found)} profiles in {profiles_dir()}; details: uet profiles show ID")


@profiles.command("show")
@click.argument("profile_id", metavar="ID")
@json_option
def show(profile_id: str, as_json: bool) -> None:
    """Show one profile in full: its gates with their commands and required programs, its
    phase templates, detection markers, patch policy, budgets and routing rules.

    \b
    Examples:
      uet profiles show software-dev-python
      uet profiles show data-pipeline --json
    """
    profile = get_profile(profile_id)
    if as_json:
        echo_json(
            {
                "profile_id": profile.id,
                "path": str(profile.path),
                "profile": profile.document,
                "phases": profile.phases,
            }
        )
        return
    for section in (_heading, _gates, _phases, _detection, _policy, _routing):
        click.echo("\n".join(section(profile)))


def _summary(profile: Profile) -> dict[str, Any]:
    return {
        "profile_id": profile.id,
        "name": profile.name,
        "domain": profile.domain,
        "description": profile.description,
        "task_kinds": list(profile.task_kinds),
        "default_gates": list(profile.default_gates),
        "phases": list(profile.phase_ids),
        "path": str(profile.path),
    }


def _heading(profile: Profile) -> list[str]:
    lines = [f"{click.style(profile.id, bold=True)}: {profile.name} (domain {profile.domain})"]
    if profile.description:
        lines.append(profile.description)
    return [
        *lines,
        f"folder: {profile.path}",
        f"resource types: {', '.join(profile.resource_types) or 'none'}",
        f"task kinds: {', '.join(profile.task_kinds) or 'none'}",
    ]


def _gates(profile: Profile) -> list[str]:
    lines = ["", "default gates:"]
    for name, gate in profile.default_gates.items():
        lines.append(f"  {click.style(name, bold=True)}: {shlex.join(gate['run'])}")
        facts = [gate.get("type", "custom"), _blocking(gate)]
        if "timeout_seconds" in gate:
            facts.append(f"timeout {gate['timeout_seconds']:g}s")
        if gate.get("requires"):
            facts.append(f"requires {', '.join(gate['requires'])}")
        if gate.get("env"):
            facts.append("env " + " ".join(f"{k}={v}" for k, v in gate["env"].items()))
        lines.append(f"      {'; '.join(facts)}")
        if gate.get("description"):
            lines.append(f"      {gate['description']}")
    if len(lines) == 2:
        lines.append("  none")
    return lines


def _blocking(gate: Mapping[str, Any]) -> str:
    return "blocking" if gate.get("blocking", True) else "non-blocking"


def _phases(profile: Profile) -> list[str]:
    lines = ["", "phases:"]
    for phase_id, phase in profile.phases.items():
        lines.append(f"  {click.style(phase_id, bold=True)}: {phase['name']}")
        scope = phase.get("scope", {})
        facts = [
            f"task kinds {', '.join(phase.get('task_kinds', [])) or 'any'}",
            f"gates {', '.join(phase.get('gates', [])) or 'none'}",
            f"writes {', '.join(scope.get('write', [])) or 'anything'}",
        ]
        if scope.get("forbidden"):
            facts.append(f"never {', '.join(scope['forbidden'])}")
        lines.append(f"      {'; '.join(facts)}")
    if len(lines) == 2:
        lines.append("  none")
    return lines


def _detection(profile: Profile) -> list[str]:
    lines = ["", "detection:"]
    rows = [[f"{m.weight:g}", m.glob, m.reason] for m in profile.markers]
    if rows:
        lines += ["  " + line for line in table(["WEIGHT", "MARKER", "WHY"], rows).splitlines()]
    else:
        lines.append("  no markers (chosen when no other profile fits)")
    weights = ", ".join(f"{name} {weight:g}" for name, weight in profile.languages.items())
    lines.append(f"  languages: {weights or 'none'}")
    return lines


def _policy(profile: Profile) -> list[str]:
    policy = profile.patch_policy
    limits = [
        f"{label} {policy[key]}"
        for key, label in (
            ("max_files", "max files"),
            ("max_changed_lines", "max changed lines"),
            ("oscillation_window", "oscillation window"),
        )
        if key in policy
    ]
    limits += [
        f"{name} {'allowed' if policy[key] else 'refused'}"
        for key, name in (
            ("allow_binary", "binary files"),
            ("allow_deletions", "deletions"),
            ("allow_submodules", "submodules"),
        )
        if key in policy
    ]
    lines = ["", f"patch policy: {'; '.join(limits) or 'none'}"]
    if policy.get("forbidden"):
        lines.append(f"  forbidden: {', '.join(policy['forbidden'])}")
    budgets = profile.budgets
    shown = [
        template.format(budgets[key])
        for key, template in (
            ("max_usd", "${:g}"),
            ("max_tokens", "{:,} tokens"),
            ("max_wall_seconds", "{:g} s of tool time"),
        )
        if key in budgets
    ]
    lines.append(f"budgets: {', '.join(shown) or 'none'}")
    return lines


def _routing(profile: Profile) -> list[str]:
    lines = ["", "router rules:"]
    for rule in profile.router_rules:
        kinds = ", ".join(rule.get("match", {}).get("kind", [])) or "any kind"
        strategy = rule.get("strategy", "the router's default strategy")
        candidates = ", ".join(rule["candidates"])
        lines.append(f"  {rule['id']}: {kinds} -> {candidates} ({strategy})")
    if len(lines) == 2:
        lines.append("  none")
    return lines


@click.command()
@click.argument(
    "root", required=False, type=click.Path(file_okay=False, path_type=Path), default="."
)
@click.option(
    "--profile", "profile_id", metavar="ID", help="Use this profile (see `uet profiles`)."
)
@click.option("--force", is_flag=True, help="Overwrite generated files you edited since.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@click.option("--no-versions", is_flag=True, help="Do not run tools to read their versions.")
@json_option
def init(
    root: Path, profile_id: str | None, force: bool, dry_run: bool, no_versions: bool, as_json: bool
) -> None:
    """Bootstrap ROOT (default: here) from a domain profile.

    Scans the repository (languages, markers, test frameworks, CI, tools on PATH, git),
    scores every profile (`--profile ID` forces one), then writes .uet/project_profile.json
    (with the gates that can run here), .uet/router_config.json (the agent CLIs and
    codemods found), .uet/phases/*.json, workstreams/starter.json and .gitignore entries,
    validates them, and reports to .uet/bootstrap_report.json. Rerunning it never
    overwrites a file you edited: it says what would change; --force replaces it.

    Exit code: 0 when the project is ready (or partially: see the warnings), 1 when it
    needs a person or failed, 2 for bad input.

    \b
    Examples:
      uet init
      uet init ../service --profile software-dev-javascript
      uet init --dry-run --json
    """
    result = init_project(
        root, profile_id=profile_id, force=force, dry_run=dry_run, probe_versions=not no_versions
    )
    if as_json:
        echo_json(result.report)
    else:
        _print_report(result, dry_run)
    raise SystemExit(result.exit_code)


def _print_report(result: InitResult, dry_run: bool) -> None:
    report, discovery, selection = result.report, result.discovery, result.selection
    found = report["discovery"]
    click.echo(
        f"{report['root']}: {found['files_scanned']} file(s) in {found['duration_seconds']:.2f}s"
    )
    languages = ", ".join(
        f"{lang['name']} {lang['share']:.0%}" for lang in found["languages"] if lang.get("share")
    )
    click.echo(f"  languages: {languages or 'none'}")
    markers = ", ".join(sorted({m["name"] for m in found["markers"]}))
    click.echo(f"  markers: {markers or 'none'}")
    tests = ", ".join(t["name"] for t in found["test_frameworks"])
    ci = ", ".join(c["system"] for c in found["ci"])
    click.echo(f"  tests: {tests or 'none'}; CI: {ci or 'none'}")
    tools = ", ".join(t["name"] for t in found["tools"] if t["found"])
    click.echo(f"  tools on PATH: {tools or 'none'}")
    git = discovery.git
    state = (
        "not a repository"
        if not git.is_repo
        else f"branch {git.branch}, {git.commits} commit(s), "
        + ("clean" if git.clean else "uncommitted changes")
    )
    click.echo(f"  git: {state}")
    how = "forced" if selection.forced else f"confidence {selection.confidence:.2f}"
    click.echo(f"profile: {click.style(selection.profile_id, bold=True)} ({how})")
    for score in [s for s in selection.scores if s.score > 0][:3]:
        click.echo(f"  {score.profile_id:<24} {score.score:6.2f}  {'; '.join(score.reasons[:3])}")
    for why in selection.override_reasons:
        click.echo(f"  override {why}")
    verb = "would write" if dry_run else "files"
    click.echo(f"{verb}:")
    for artifact in report["artifacts"]:
        click.echo(f"  {artifact['action']:<14} {artifact['path']}")
    for path, diff in result.diffs.items():
        lines = diff.splitlines()
        click.echo(f"  {path}: you edited it; --force would change it:")
        for line in lines[:40]:
            click.echo(f"    {line}")
        if len(lines) > 40:
            click.echo(f"    ... {len(lines) - 40} more line(s)")
    problems = [c for c in report["checks"] if c["status"] != "ok" or c.get("fixed")]
    if problems:
        click.echo("checks:")
        for check in problems:
            mark = "fixed" if check.get("fixed") else check["status"]
            click.echo(f"  {mark:<8} {check['check']}: {check.get('message', '')}")
    click.echo(f"status: {styled_state(report['status'])}")
    click.echo("next:")
    for step in report["next_steps"]:
        click.echo(f"  {step}")


COMMANDS = [init, profiles]
