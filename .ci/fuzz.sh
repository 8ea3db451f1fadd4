#!/usr/bin/env bash
# Runs every fuzz target in the repository (each `func FuzzXxx(*testing.F)` in
# a tracked _test.go file, found anew on every run) for a fixed time, one after
# the other, in its own package and module. A crasher fails the run: go test
# writes it under the package's testdata/fuzz/<target>/, and the line naming
# it is printed again at the end. Check that file in, with the fix, so the
# plain tests keep running it.
#
#   bash .ci/fuzz.sh                      # 20 s each, as CI
#   VPR_FUZZTIME=5s bash .ci/fuzz.sh      # shorter, by hand
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOTOOLCHAIN=go1.26.10
fuzztime=${VPR_FUZZTIME:-20s}

# target<TAB>file, for each fuzz target.
targets=$(git ls-files -z '*_test.go' | xargs -0 grep -HoE '^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]+ \*testing\.F\)' |
	sed -E 's/^([^:]*):func (Fuzz[A-Za-z0-9_]*)\(.*/\2\t\1/')
if [[ -z $targets ]]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# coordinator_race LOG NAME: did the run in LOG end with Go's own fuzzing
# coordinator reporting the end of -fuzztime as a failure? go.dev/issue/75804
# (fixed in Go 1.27, in no 1.26 release): when the deadline fires, a worker's
# shutdown can escape the coordinator's "expected stop" check, and the target
# FAILs with a bare "context deadline exceeded" at fuzztime + ε. That is the
# whole of its failure: no input is written (a crasher, a failing input or a
# hung one, always is), the target fuzzed, and no other line says why.
coordinator_race() {
	local log=$1 name=$2
	! grep -qE '^\s+Failing input written to ' "$log" &&
		grep -qE '^fuzz: elapsed: .*execs: [1-9]' "$log" &&
		[[ $(sed -n "/^--- FAIL: $name /,/^FAIL\$/p" "$log" | grep -vE '^(--- FAIL: |=== NAME|FAIL$|exit status 1$)') == "    context deadline exceeded" ]]
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=() crashers=() failed=0
while IFS=$'\t' read -r name file; do
	dir=$(dirname "$file")
	# The module that holds it: the nearest go.mod upwards.
	mod=$dir
	until [[ -f $mod/go.mod ]]; do mod=$(dirname "$mod"); done
	pkg=./${dir#"$mod"}
	pkg=${pkg/#.\/\//.\/}
	echo "--- fuzz: $name in $dir ($fuzztime)"
	start=$SECONDS
	rc=0
	# -fuzzminimizetime 0: no minimizing. At its default (up to 60 s for each
	# new input) it took most of a 20 s budget, at 0 execs/s (FuzzPresignKey:
	# 18 s of 21). A crasher is written as found, not minimized.
	(cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 0 -v "$pkg") >"$log" 2>&1 || rc=$?
	# The progress lines (one every 3 s) and the verdict.
	grep -E '^(fuzz: |--- PASS|ok )' "$log" || true
	# "fuzz: elapsed: 20s, execs: 123456 (6172/sec), new interesting: 3 (total: 12)"
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/^fuzz: elapsed: ([0-9]+s), execs: ([0-9]+) .*/\2 execs in \1 of fuzzing/p' <<<"$last")
	if ((rc)) && coordinator_race "$log" "$name"; then
		# The budget was spent fuzzing and nothing failed: not a finding.
		echo "fuzz: $name: go test failed with a bare \"context deadline exceeded\" at the end of -fuzztime and wrote no input: Go's coordinator race (go.dev/issue/75804), not a crasher"
		summary+=("$name ($dir): $execs, $((SECONDS - start))s with the build; ended by Go's coordinator race (go.dev/issue/75804), no input written")
	elif ((rc)); then
		failed=1
		if grep -q '^--- FAIL' "$log"; then
			grep -v '^fuzz: elapsed' "$log" | sed -n '/^--- FAIL/,$p' | head -n 80
		else
			tail -n 40 "$log"
		fi
		# "Failing input written to testdata/fuzz/FuzzX/<hash>", relative to the package.
		while read -r input; do
			crashers+=("$dir/$input (re-run: cd $mod && go test -run '^$name\$/^${input##*/}\$' $pkg)")
		done < <(sed -nE 's/^\s+Failing input written to (\S+)$/\1/p' "$log")
		summary+=("$name ($dir): FAILED${execs:+ after $execs}")
	elif [[ -z $execs ]]; then
		# go test exits 0 when -fuzz matches nothing ("no fuzz tests to fuzz").
		failed=1
		tail -n 20 "$log"
		summary+=("$name ($dir): did not fuzz")
	else
		summary+=("$name ($dir): $execs, $((SECONDS - start))s with the build")
	fi
done <<<"$targets"

echo
printf 'fuzz: %s\n' "${summary[@]}"
if ((${#crashers[@]})); then
	printf 'fuzz: crasher: %s\n' "${crashers[@]}" >&2
fi
exit $failed
