#!/usr/bin/env bash
# tools/main-job must never touch a real installation: with TAPEFLOW_HOME and TAPEFLOW_CONFIG
# pointing at a "production" home (a catalog and a config of its own), the main job runs in its
# scratch folder and the production files are untouched; a non-empty folder it did not make is
# refused as scratch; a folder it made is reused.
set -uo pipefail
src=$1 bin=$2
tmp=$(mktemp -d /tmp/tfmj.XXXXXX)
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }
cleanup() {
  TAPEFLOW_CONFIG=$tmp/scratch/tapeflow.cfg "$bin/tapeflow" down >/dev/null 2>&1
  [ -n "${TF_KEEP_TEST_DIRS:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

prod=$tmp/prod
mkdir -p "$prod"
echo "production catalog" >"$prod/catalog.db"
printf 'tapeflow\n    home = "%s"\n' "$prod" >"$tmp/prod.cfg"
before=$(cd "$prod" && find . -printf '%p %s %T@\n' | sort)

run() {
  TAPEFLOW_HOME=$prod TAPEFLOW_CONFIG=$tmp/prod.cfg \
    "$src/tools/main-job" --bin "$bin" --files 40 --bytes 1M "$@" >"$tmp/run.log" 2>&1
}

run --dir "$tmp/scratch" || { tail -20 "$tmp/run.log"; fail "main job failed in its scratch folder"; }
grep -q "verified identical" "$tmp/run.log" || fail "main job did not verify its restore"
[ "$(cd "$prod" && find . -printf '%p %s %T@\n' | sort)" = "$before" ] \
  || fail "main job changed the production home $prod"
[ -f "$tmp/scratch/.tapeflow-main-job" ] || fail "scratch folder lacks the main job's mark"

run --dir "$prod"
rc=$?
[ "$rc" = 2 ] || fail "main job accepted a foreign non-empty folder as scratch (exit $rc)"
grep -q "not made by the main job" "$tmp/run.log" || fail "refusal does not say why: $(cat "$tmp/run.log")"
[ "$(cat "$prod/catalog.db")" = "production catalog" ] || fail "production catalog touched"

run --dir "$tmp/scratch" || { tail -20 "$tmp/run.log"; fail "main job could not reuse its own scratch folder"; }
[ "$(cd "$prod" && find . -printf '%p %s %T@\n' | sort)" = "$before" ] || fail "second run changed $prod"
echo "3 passed, 0 failed"
