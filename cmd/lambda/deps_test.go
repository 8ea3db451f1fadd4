package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLeanDependencies: the deployable build links none of the packages
// that cost every cold start their initialisation (or, for text/template,
// the linker's dead-code elimination of methods) and that the function does
// not need.
func TestLeanDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc,grpcnotrace", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := map[string]string{
		"github.com/aws/aws-sdk-go-v2/config":                          "awsenv.Load reads the environment Lambda sets",
		"github.com/aws/aws-sdk-go-v2/credentials/":                    "the SDK's credential sources beyond the environment's",
		"github.com/aws/aws-sdk-go-v2/service/sts":                     "the SDK's credential sources beyond the environment's",
		"github.com/aws/aws-sdk-go-v2/service/sso":                     "the SDK's credential sources beyond the environment's",
		"github.com/aws/aws-sdk-go-v2/service/ssooidc":                 "the SDK's credential sources beyond the environment's",
		"github.com/aws/aws-sdk-go-v2/service/signin":                  "the SDK's credential sources beyond the environment's",
		"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue": "dynamo decodes the job item itself",
		"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams":         "dynamo decodes the job item itself",
		"golang.org/x/net/trace":                                       "built with grpcnotrace",
		"text/template":                                                "built with grpcnotrace",
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for f, why := range forbidden {
			if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("links %s: %s", dep, why)
			}
		}
	}
}
