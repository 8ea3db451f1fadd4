package s3result

// EscapePath is escapePath, for the tests that hold it to the SDK.
var EscapePath = escapePath
