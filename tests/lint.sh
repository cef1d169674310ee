#!/usr/bin/env bash
# Static analysis as a test: cppcheck or clang-tidy over the project's C.
# usage: tests/lint.sh cppcheck|clang-tidy SOURCE_DIR BUILD_DIR
set -euo pipefail
tool="$1"; src="$2"; build="$3"
cd "$src"
files=(acl/*.c core/*.c store/*.c workers/*.c plugin/*.c tools/*.c)
case "$tool" in
cppcheck)
	cppcheck --enable=warning,style,performance --error-exitcode=1 --quiet --inline-suppr \
		--suppressions-list=tests/cppcheck.supp --suppress=missingIncludeSystem \
		-I acl -I core -I store -I workers -I plugin "${files[@]}"
	;;
clang-tidy)
	# one file per run (clang-tidy 14 reports a false va_list warning when
	# given several at once), one run per core.
	printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$(nproc)" sh -c \
		'clang-tidy -p "$0" --quiet "$1" 2>/dev/null || { echo "clang-tidy: $1" >&2; exit 1; }' "$build" \
		|| exit 1
	;;
*) echo "usage: $0 cppcheck|clang-tidy SOURCE_DIR BUILD_DIR" >&2; exit 2 ;;
esac
echo "$tool: clean"
