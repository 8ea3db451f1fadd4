#!/usr/bin/env bash
# Lints status/openapi.json with two independent OpenAPI linters, pinned:
# Spectral (its spectral:oas rules, .ci/spectral.yaml) and Redocly CLI (its
# recommended rules). Any error or warning of either fails. Both are
# installed with npm into a temporary directory, not as dependencies of the
# project, and removed afterwards.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# SPECTRAL_VERSION and REDOCLY_VERSION, with every other tool's.
source "$repo/.ci/versions"
doc=status/openapi.json

command -v npm >/dev/null || { echo "openapi-lint: npm is required (apt-get install nodejs npm)" >&2; exit 1; }
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
# A package.json of its own keeps npm from walking up into a project.
echo '{"name": "vprstatus-openapi-lint", "private": true}' >"$tools/package.json"
echo "openapi-lint: installing @stoplight/spectral-cli@$SPECTRAL_VERSION and @redocly/cli@$REDOCLY_VERSION"
(cd "$tools" && npm install --no-audit --no-fund --save-exact --loglevel=error \
	"@stoplight/spectral-cli@$SPECTRAL_VERSION" "@redocly/cli@$REDOCLY_VERSION")
# Redocly: no telemetry, no update check.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

cd "$repo"
status=0
echo "openapi-lint: spectral lint --ruleset .ci/spectral.yaml $doc"
"$tools/node_modules/.bin/spectral" lint --ruleset .ci/spectral.yaml --fail-severity=warn "$doc" || status=1

# Redocly fails on errors only: count its warnings from the JSON report too.
echo "openapi-lint: redocly lint --extends=recommended $doc"
"$tools/node_modules/.bin/redocly" lint --extends=recommended --format=json "$doc" >"$tools/redocly.json" 2>"$tools/redocly.log" || true
node -e '
	const r = require(process.argv[1]);
	for (const p of r.problems) {
		const at = (p.location && p.location[0] && p.location[0].pointer) || "";
		console.log(`${p.severity} ${p.ruleId}: ${p.message} (${at})`);
	}
	console.log(`redocly ${r.version}: ${r.totals.errors} errors, ${r.totals.warnings} warnings`);
	process.exit(r.totals.errors + r.totals.warnings === 0 ? 0 : 1);
' "$tools/redocly.json" || { status=1; grep -v '^\s*$' "$tools/redocly.log" | grep -v '[║╔╚]' >&2 || true; }
exit $status
