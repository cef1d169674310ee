#!/usr/bin/env bash
# tools/cli/test.sh: `./fynsync test [--long] [ctest args]`. Installs what is
# missing, builds three trees and runs each suite once, in the build that
# suits it (tests/README.md has the suites and their time budget):
#   build-asan/  (ASan+UBSan): unit and SQL tests   (ctest label unit|sql)
#   build-ubsan/ (UBSan):      integration tests and the bad-input corpus
#                (labels integration|corpus; the plugin inside Debian's
#                mosquitto, where ASan cannot run)
#   build/       (plain):      every other suite     (lint, valgrind, ...)
#   build-fuzz/  (clang, libFuzzer+ASan+UBSan): acl/, core/ and the fuzz
#                targets only                        (label fuzz; 20 s each)
# --long exports FYNSYNC_LONG=1 for the suites that have a longer form.
# ctest args (e.g. -R sql) apply to every run. Exit non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "${1:-}" = --long ]; then
	export FYNSYNC_LONG=1
	shift
fi

"$CLI/install.sh"
say "building (plain, ASan+UBSan, UBSan, fuzzing)"
build_into "$BUILD"
build_into "$ROOT/build-asan" -DFYNSYNC_SANITIZE=address,undefined
build_into "$ROOT/build-ubsan" -DFYNSYNC_SANITIZE=undefined
build_into "$ROOT/build-fuzz" -DCMAKE_C_COMPILER=clang -DFYNSYNC_FUZZ=ON -DBUILD_TESTING=OFF

rc=0
run_suites() {
	local what="$1" dir="$2"; shift 2
	say "running $what"
	ctest --test-dir "$dir" --output-on-failure -j 2 "$@" || rc=1
}
run_suites "unit and SQL tests (ASan+UBSan build)" "$ROOT/build-asan" -L 'unit|sql' "$@"
run_suites "integration tests and the bad-input corpus (plugin under UBSan)" "$ROOT/build-ubsan" -L 'integration|corpus' "$@"
rm -f "$BUILD/chaos-figures.txt"
run_suites "every other suite (plain build)" "$BUILD" -LE 'unit|sql|integration|corpus|fuzz' "$@"
if [ -f "$BUILD/chaos-figures.txt" ]; then
	say "chaos suite (tests/README.md, \"Chaos\"):"
	cat "$BUILD/chaos-figures.txt" >&2
fi
run_suites "fuzzing (libFuzzer build)" "$ROOT/build-fuzz" -L fuzz "$@"
cat "$ROOT"/build-fuzz/tests/fuzz/*.summary 2>/dev/null || true
exit $rc
