#!/usr/bin/env bash
# Installs the protocol peers the integration tests run against, into
# ${VPR_PEERS_DIR:-<repo>/.peers}. Idempotent: a peer already installed at the
# pinned version is left alone, so CI and developers can run it every time.
#
# One function per peer, each called from main.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${VPR_PEERS_DIR:-$repo/.peers}
# The project's toolchain (see go.mod), for the go install below.
export GOTOOLCHAIN=go1.26.10

DYNALITE_VERSION=4.0.0
S3RVER_VERSION=3.7.1
# The Lambda Runtime Interface Emulator, built from the Go module proxy.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

# npm_installed PKG VERSION: is PKG@VERSION already in $PEERS/node_modules?
npm_installed() {
	local pj="$PEERS/node_modules/$1/package.json"
	[[ -f $pj ]] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$pj" "$2"
}

# npm_peer PKG VERSION: install PKG@VERSION unless it is there already.
npm_peer() {
	local pkg=$1 version=$2
	if npm_installed "$pkg" "$version"; then
		echo "peers: $pkg@$version already installed"
		return
	fi
	mkdir -p "$PEERS"
	# A package.json of its own keeps npm from walking up into the repo. Written
	# by hand: `npm init -y` rejects the directory name ".peers".
	[[ -f $PEERS/package.json ]] || echo '{"name": "vprstatus-peers", "private": true}' >"$PEERS/package.json"
	echo "peers: installing $pkg@$version into $PEERS"
	(cd "$PEERS" && npm install --no-audit --no-fund --save-exact "$pkg@$version")
}

install_dynalite() { npm_peer dynalite "$DYNALITE_VERSION"; }
install_s3rver() { npm_peer s3rver "$S3RVER_VERSION"; }

# install_rie builds aws-lambda-rie into $PEERS/bin (about 15 s), unless a
# binary built from the pinned version is there already. The integration
# tests run the Lambda bootstrap under it.
install_rie() {
	local bin=$PEERS/bin/aws-lambda-rie
	command -v go >/dev/null || { echo "peers: go is required to build aws-lambda-rie" >&2; exit 1; }
	if [[ -x $bin ]] && go version -m "$bin" | grep -q "[[:space:]]$RIE_VERSION[[:space:]]"; then
		echo "peers: aws-lambda-rie@$RIE_VERSION already installed"
		return
	fi
	mkdir -p "$PEERS/bin"
	echo "peers: installing aws-lambda-rie@$RIE_VERSION into $PEERS/bin"
	GOBIN="$PEERS/bin" go install "$RIE_MODULE@$RIE_VERSION"
}

main() {
	command -v npm >/dev/null || { echo "peers: npm is required (apt-get install nodejs npm)" >&2; exit 1; }
	install_dynalite
	install_s3rver
	install_rie
}

main "$@"
