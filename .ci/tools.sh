#!/usr/bin/env bash
# Installs the Go tools the checks use, at the versions pinned in .ci/versions,
# into $(go env GOPATH)/bin. A tool already built from its pinned version is
# left alone, so .ci/run and each .ci/*.sh check can call this every time.
#
#   bash .ci/tools.sh            # all of them
#   bash .ci/tools.sh gosec ...  # only these
set -euo pipefail

ci=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$ci/versions"
# The project's toolchain (see go.mod), to build the tools with.
export GOTOOLCHAIN=go1.26.10

# name → package@version, in the order they install.
names=(staticcheck actionlint govulncheck gosec cyclonedx-gomod)
declare -A pkgs=(
	[staticcheck]=honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION
	[actionlint]=github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION
	[govulncheck]=golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION
	[gosec]=github.com/securego/gosec/v2/cmd/gosec@$GOSEC_VERSION
	[cyclonedx-gomod]=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION
)

bin=$(go env GOPATH)/bin
# installed NAME PKG VERSION: was $bin/NAME built from PKG at VERSION?
installed() {
	[[ -x $bin/$1 ]] && go version -m "$bin/$1" | awk -v pkg="$2" -v v="$3" '
		$1 == "path" && $2 == pkg { p = 1 }
		$1 == "mod" && $3 == v { m = 1 }
		END { exit !(p && m) }'
}

for name in "${@:-${names[@]}}"; do
	spec=${pkgs[$name]:?"tools: unknown tool $name (known: ${names[*]})"}
	pkg=${spec%@*} version=${spec##*@}
	if installed "$name" "$pkg" "$version"; then
		echo "tools: $name $version already installed"
		continue
	fi
	echo "tools: installing $spec"
	go install "$spec"
done
