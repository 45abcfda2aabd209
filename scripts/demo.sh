#!/usr/bin/env bash
# The demo behind `make demo`, on the default SQLite ledger (.ledger/framework.db):
#   0. `uet init` on a copy of examples/sample-project: the report, then its gates;
#   1. the kernel: validate, plan and run example bundles (fan-out, retry), show the ledger;
#   2. patch-first execution: copy examples/sample-project into a fresh git repository, run
#      real codemods on it (each change a patch that must pass the pytest gate before it lands
#      on uet/<run>), one careless change that fails the gate and is not integrated, then the
#      patches, the gate results, and `uet land` taking the result into the project's branch;
#      then two patches that each pass alone and fail together: the merge queue gates the
#      second on the tree it would land as, ejects it, and `uet verify` checks the branch;
#   3. coding agents: scripted stand-ins for the claude, codex and aider CLIs (they print each
#      real CLI's output format; real agents need accounts and network) routed by a router
#      config: two agents race under best_of_n, a shadow comparison, a task its budget stops,
#      then what it all cost.
set -euo pipefail
cd "$(dirname "$0")/.."

examples=workstreams/examples
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
latest_run() { uet runs -n 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run_id"])'; }
expect_exit() {  # expect_exit CODE COMMAND...: run it, fail the demo if it exits otherwise
  local want=$1 code=0
  shift
  "$@" || code=$?
  if [ "$code" -ne "$want" ]; then
    echo "demo: expected exit code $want from '$*', got $code" >&2
    exit 1
  fi
}

# -- 0. bootstrap a project ------------------------------------------------------------------

project=$(mktemp -d "${TMPDIR:-/tmp}/uet-demo-project.XXXXXX")
cp -R examples/sample-project/. "$project/"
git -C "$project" init -q -b main
git -C "$project" add -A
git -C "$project" -c user.name="UET demo" -c user.email=demo@uet.invalid commit -q -m "sample project"

step "uet init $project   (discover, choose a profile, generate, validate, report)"
uet init --no-versions "$project"

step "uet gate run --dir $project   (the profile's gates, right away: the tests pass, lint does not yet: exit code 1 expected)"
expect_exit 1 uet gate run --dir "$project"

git -C "$project" add -A
git -C "$project" -c user.name="UET demo" -c user.email=demo@uet.invalid commit -q -m "uet init"

# -- 1. the kernel ---------------------------------------------------------------------------

step "uet validate --router examples/agents/router_config.json $examples/*.json"
uet validate --router examples/agents/router_config.json "$examples"/*.json

step "uet plan $examples/fanout.json"
uet plan "$examples/fanout.json"

step "uet run $examples/fanout.json   (fan-out / fan-in)"
uet run "$examples/fanout.json"

step "uet run $examples/retry.json   (fails once, succeeds on retry)"
uet run "$examples/retry.json"
retry_run=$(latest_run)

step "uet events $retry_run --kind task.   (the retry, as the ledger recorded it)"
uet events "$retry_run" --kind task.

step "uet run $examples/skip-dependents.json   (a failure skips its dependents; exit code 1 expected)"
expect_exit 1 uet run "$examples/skip-dependents.json"

step "uet status   (which task failed and what was skipped)"
uet status

# -- 2. patch-first execution ----------------------------------------------------------------

step "the sample project in $project (git: the project, then what uet init wrote)"
git -C "$project" log --oneline
(cd "$project" && python3 -m pytest -q -p no:cacheprovider | tail -1)

step "uet doctor   (what each tool and gate may touch here: the sandbox, or processes only, and why)"
uet doctor

step "uet run --repo $project $examples/codemods.json   (one task breaks the tests: exit code 1 expected)"
expect_exit 1 uet run --repo "$project" "$examples/codemods.json"
codemods_run=$(latest_run)

step "uet patches   (four landed on uet/$codemods_run; the careless rename was rejected)"
uet patches "$codemods_run"

step "uet gate results   (the unit gate per patch; lint is non-blocking: it warns, then passes)"
uet gate results "$codemods_run"

rejected=$(uet patches "$codemods_run" --state rejected --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["entry"]["patch_id"])')
step "uet patch show $rejected --stat   (why it was not integrated: the failures, located)"
uet patch show "$rejected" --stat

step "the project's own checkout was not touched by the run"
git -C "$project" status --short --branch
git -C "$project" log --oneline -1

step "uet land $codemods_run   (fast-forward the project's branch to the integration branch)"
uet land "$codemods_run"
git -C "$project" log --oneline

step "uet gate run --dir $project   (after the codemods, every gate of the profile passes)"
uet gate run --dir "$project"

step "uet run --repo $project --parallel 2 $examples/merge-queue.json   (two patches pass alone, fail together: exit code 1 expected)"
expect_exit 1 uet run --repo "$project" --parallel 2 "$examples/merge-queue.json"
queue_run=$(latest_run)

step "uet events $queue_run --kind queue.   (the merge queue gated the second patch on the tree it would land as, and ejected it)"
uet events "$queue_run" --kind queue.

step "uet verify $queue_run   (every commit on uet/$queue_run passed its gates on exactly its tree)"
uet verify "$queue_run"

# -- 3. coding agents -------------------------------------------------------------------------

router=examples/agents/router_config.json
export PATH="$PWD/tests/agents:$PATH" FAKE_AGENT_SCRIPT="$PWD/examples/agents/script.json"

step "uet tools --router $router   (stand-ins for the agent CLIs are first on PATH)"
uet tools --router "$router"

step "uet plan --router $router $examples/agents.json   (how each task is routed)"
uet plan --router "$router" "$examples/agents.json"

step "uet run --router $router --repo $project $examples/agents.json   (the budget stops one task: exit code 1 expected)"
expect_exit 1 uet run --router "$router" --repo "$project" "$examples/agents.json"
agents_run=$(latest_run)

step "uet show unit-count   (best_of_n: claude's patch passed the gate and landed; codex's was rejected)"
uet show unit-count --run "$agents_run"

step "uet show usage-docs   (shadow: aider's patch was recorded for comparison, never integrated)"
uet show usage-docs --run "$agents_run"

step "uet task failed   (stopped by its budget of \$0.10 after one \$0.18 attempt)"
uet task failed "$agents_run"

step "uet costs $agents_run   (~ estimated from pricing: codex reports tokens, not money)"
uet costs "$agents_run"
uet costs "$agents_run" --by task

printf '\nLedger: .ledger/framework.db  (try: sqlite3 .ledger/framework.db "select * from v_patches")\n'
printf 'Sample project: %s\n' "$project"
