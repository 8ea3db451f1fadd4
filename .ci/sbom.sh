#!/usr/bin/env bash
# A CycloneDX SBOM (JSON) of the Lambda binary: cyclonedx-gomod app for
# cmd/lambda under the deploy build's GOOS, GOARCH, CGO_ENABLED and tags, with
# the standard library and the licenses it detects. It is then held to the
# binary itself: its components must be exactly the modules the built
# bootstrap records (go version -m), and the standard library.
#
#   bash .ci/sbom.sh [OUT]    # default .ci/out/bootstrap.cdx.json (ignored by git)
#
# Run it in a clone: cyclonedx-gomod reads the main module's version from git
# with go-git, which cannot open a linked worktree (git worktree add).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOTOOLCHAIN=go1.26.10
bash .ci/tools.sh cyclonedx-gomod
export PATH="$(go env GOPATH)/bin:$PATH"

out=${1:-.ci/out/bootstrap.cdx.json}
# The deploy build (see the Lambda artifact step of .ci/run and infra/README.md).
export CGO_ENABLED=0 GOOS=linux GOARCH=arm64
tags=lambda.norpc,grpcnotrace

if [[ $(git rev-parse --absolute-git-dir) != $(cd "$(git rev-parse --git-common-dir)" && pwd) ]]; then
	echo "sbom: $(pwd) is a linked worktree, which cyclonedx-gomod cannot read its version from: run this in a clone" >&2
	exit 1
fi

mkdir -p "$(dirname "$out")"
GOFLAGS="$(go env GOFLAGS) -tags=$tags -trimpath" NO_COLOR=1 \
	cyclonedx-gomod app -json -std -licenses -output "$out" -main cmd/lambda .

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$tags" -trimpath -ldflags='-s -w' -o "$tmp/bootstrap" ./cmd/lambda
{
	go version -m "$tmp/bootstrap" | awk '$1 == "dep" { print "pkg:golang/" $2 "@" $3 }'
	echo "pkg:golang/std@$(go env GOVERSION)"
} | sort >"$tmp/binary"
node -e '
	const bom = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	if (bom.bomFormat !== "CycloneDX") throw new Error("not a CycloneDX document");
	for (const c of bom.components) console.log(c.purl.split("?")[0]);
' "$out" | sort >"$tmp/sbom"
if ! diff -u --label "modules in the bootstrap binary" --label "components of $out" "$tmp/binary" "$tmp/sbom"; then
	echo "sbom: the SBOM's components are not the binary's modules" >&2
	exit 1
fi
echo "sbom: $out: $(wc -l <"$tmp/sbom" | tr -d ' ') components, the binary's modules and the standard library"
