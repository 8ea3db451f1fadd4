#!/usr/bin/env bash
# govulncheck, offline, against the Go vulnerability database pinned in
# .ci/versions (a module from the Go module proxy; govulncheck reads its
# data/osv folder directly). Three scans:
#   - the root module's packages;
#   - the Lambda build: cmd/lambda for linux/arm64 with the deploy build's tags;
#   - the infra module.
# It fails on any vulnerability the code reaches (symbol level: govulncheck
# exits 3), and prints, without failing, those only in packages the code
# imports or in modules it requires.
#
#   bash .ci/vulncheck.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/versions
export GOTOOLCHAIN=go1.26.10
bash .ci/tools.sh govulncheck
export PATH="$(go env GOPATH)/bin:$PATH"

# Fetched (and checked against sum.golang.org) like any module.
go mod download golang.org/x/vulndb@"$VULNDB_VERSION"
db=$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION/data/osv
[[ -d $db ]] || { echo "vulncheck: no $db" >&2; exit 1; }
echo "vulncheck: database golang.org/x/vulndb@$VULNDB_VERSION (advisories published up to that version)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
reachable=()

# scan NAME DIR [VAR=value...] -- ARGS...: govulncheck in DIR, with the
# environment VARs, on ARGS.
scan() {
	local name=$1 dir=$2
	shift 2
	local env=()
	while [[ $1 != -- ]]; do env+=("$1"); shift; done
	shift
	echo
	echo "--- govulncheck: $name"
	local rc=0
	(cd "$dir" && env "${env[@]}" govulncheck -db "file://$db" -show verbose "$@") >"$log" 2>&1 || rc=$?
	# The results, without the list of packages and modules scanned.
	sed -n '/^=== \|^No vulnerabilities found\|^Your code/,$p' "$log"
	# One line per level: the advisory ids that section lists.
	awk '/^=== Symbol/ { s = "reachable (fails)" } /^=== Package/ { s = "imported only" } /^=== Module/ { s = "required only" }
		/^Vulnerability #/ { ids[s] = ids[s] " " $3 }
		END {
			n = split("reachable (fails)|imported only|required only", order, "|")
			for (i = 1; i <= n; i++) if (order[i] in ids) printf "vulncheck: %s: %s:%s\n", name, order[i], ids[order[i]]
		}' name="$name" "$log"
	case $rc in
	0) ;;
	3) reachable+=("$name") ;;
	*)
		cat "$log"
		echo "vulncheck: $name: govulncheck failed (exit $rc)" >&2
		exit 1
		;;
	esac
}

scan "root module" . -- ./...
# The deploy build (see the Lambda artifact step of .ci/run and infra/README.md).
scan "Lambda build (linux/arm64, lambda.norpc,grpcnotrace)" . CGO_ENABLED=0 GOOS=linux GOARCH=arm64 -- -tags lambda.norpc,grpcnotrace ./cmd/lambda
scan "infra module" infra -- ./...

echo
if ((${#reachable[@]})); then
	(IFS=';'; echo "vulncheck: vulnerabilities reachable from the code in: ${reachable[*]}" >&2)
	exit 1
fi
echo "vulncheck: nothing reachable"
