package defaultchain_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/awsenv/defaultchain"
)

// TestLoadUsesTheDefaultChain: unlike cmd/lambda's awsenv.Load, Load takes
// the region and credentials from a developer's shared config profile.
func TestLoadUsesTheDefaultChain(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[profile dev]\nregion = eu-west-2\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_PROFILE": "dev",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
	settings := map[string]string{"JOBS_TABLE_NAME": "jobs", "VPR_RESULTS_BUCKET_NAME": "results"}
	b, err := defaultchain.Load(context.Background(), func(k string) string { return settings[k] })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := b.S3.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if region := b.S3.Options().Region; region != "eu-west-2" || creds.AccessKeyID != "AKIDPROFILE" {
		t.Errorf("region %q, access key %q: want the profile's", region, creds.AccessKeyID)
	}
}

// TestLoadNeedsARegion: without AWS_REGION or a profile's region, Load says
// where a region can come from.
func TestLoadNeedsARegion(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
	} {
		t.Setenv(k, v)
	}
	settings := map[string]string{"JOBS_TABLE_NAME": "jobs", "VPR_RESULTS_BUCKET_NAME": "results"}
	_, err := defaultchain.Load(context.Background(), func(k string) string { return settings[k] })
	if err == nil || !strings.Contains(err.Error(), "no AWS region: set AWS_REGION") {
		t.Errorf("err = %v, want the missing region named", err)
	}
}
