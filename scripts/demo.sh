#!/usr/bin/env bash
# The demo behind `make demo`: validate, plan and run the example bundles on the default
# SQLite ledger (.ledger/framework.db), then show what the ledger recorded.
set -euo pipefail
cd "$(dirname "$0")/.."

examples=workstreams/examples
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
latest_run() { uet runs -n 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["run_id"])'; }

step "uet validate $examples/*.json"
uet validate "$examples"/*.json

step "uet plan $examples/fanout.json"
uet plan "$examples/fanout.json"

step "uet run $examples/fanout.json   (fan-out / fan-in)"
uet run "$examples/fanout.json"

step "uet status   (the run just finished: every task, its attempts, its output)"
uet status

step "uet run $examples/retry.json   (fails once, succeeds on retry)"
uet run "$examples/retry.json"
retry_run=$(latest_run)

step "uet events $retry_run   (the retry, as the ledger recorded it)"
uet events "$retry_run"

step "uet run $examples/skip-dependents.json   (a failure skips its dependents; exit code 1 expected)"
set +e
uet run "$examples/skip-dependents.json"
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "expected exit code 1 from the failing bundle, got $code" >&2
  exit 1
fi

step "uet status   (failed run: which task failed and what was skipped)"
uet status

step "uet runs"
uet runs -n 5

printf '\nLedger: .ledger/framework.db  (try: sqlite3 .ledger/framework.db "select * from v_run_progress")\n'
