// Package integration tests the status handler with its real AWS adapters
// (dynamo, s3result, built by awsenv) against real protocol servers on
// loopback: dynalite for DynamoDB and s3rver for S3. The tests start both
// servers themselves, from $VPR_PEERS_DIR/node_modules/.bin (default
// <repo>/.peers), which `bash .ci/peers.sh` installs:
//
//	bash .ci/peers.sh && go test -race ./integration/...
//
// The job item corpus (internal/testkit/jobitems) is written to dynalite in
// DynamoDB JSON and read three ways that must agree: by the running
// service, and by cmd/jobcheck on each item's file and with -table.
//
// The Lambda function (cmd/lambda) is also run as deployed, under the AWS
// Lambda Runtime Interface Emulator ($VPR_PEERS_DIR/bin/aws-lambda-rie,
// which peers.sh builds too) with the same servers behind it, and invoked
// with API Gateway and function URL events. TestColdStart measures its cold
// start when VPR_COLDSTART=1.
//
// Without the servers the tests skip, unless VPR_REQUIRE_PEERS=1 (as CI
// sets it), when they fail.
package integration
