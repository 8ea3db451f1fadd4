// Package integration tests the status handler with its real AWS adapters
// (dynamo, s3result, built by awsenv) against real protocol servers on
// loopback: dynalite for DynamoDB and s3rver for S3. The tests start both
// servers themselves, from $VPR_PEERS_DIR/node_modules/.bin (default
// <repo>/.peers), which `bash .ci/peers.sh` installs:
//
//	bash .ci/peers.sh && go test -race ./integration/...
//
// Without the servers the tests skip, unless VPR_REQUIRE_PEERS=1 (as CI
// sets it), when they fail.
package integration
