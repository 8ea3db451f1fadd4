#!/usr/bin/env bash
# gosec over both modules, the root and infra/ (non-test files, gosec's
# default): it passes with 0 findings. This file holds the whole policy.
#
#   bash .ci/gosec.sh
#
# Excluded here, each for its reason (the config below is JSON, which holds no
# comments):
#   - G104 (unchecked error) on http.ResponseWriter.Write only. A failed write
#     of a response means the client has gone: nobody can act on it. Every other
#     unchecked error is still reported (Close, RemoveAll, io.WriteString, …).
#   - nothing else. A false positive gets an in-line `// #nosec Gxxx -- reason`
#     on its line; with nosec-require-rules and nosec-require-justification on,
#     a #nosec without a rule or without a reason suppresses nothing and is
#     reported itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOTOOLCHAIN=go1.26.10
bash .ci/tools.sh gosec
export PATH="$(go env GOPATH)/bin:$PATH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/gosec.json" <<'EOF'
{
	"global": {
		"nosec-require-rules": "enabled",
		"nosec-require-justification": "enabled"
	},
	"G104": {
		"net/http.ResponseWriter": ["Write"]
	}
}
EOF

# scan NAME DIR ARGS...: gosec in DIR. Its report goes to the terminal; its
# log too, when it failed without reporting a finding.
scan() {
	local name=$1 dir=$2
	shift 2
	echo "--- gosec: $name"
	local rc=0
	(cd "$dir" && gosec -conf "$tmp/gosec.json" -fmt text -color=false "$@" ./...) >"$tmp/report" 2>"$tmp/log" || rc=$?
	cat "$tmp/report"
	if ((rc)); then
		grep -q '^  Issues : [1-9]' "$tmp/report" || tail -n 20 "$tmp/log"
		echo "gosec: $name: failed (exit $rc)" >&2
		return 1
	fi
}

failed=0
# infra/ is a module of its own: scanned by itself, below.
scan "root module" . -exclude-dir=infra || failed=1
scan "infra module" infra || failed=1
exit $failed
