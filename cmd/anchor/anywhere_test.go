package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
)

// TestServeEmbedsRelyingParty runs the Roles Anywhere-compatible relying party
// inside anchor serve (an anywhere: section in anchor.yaml) and reaches its
// control plane on the CA's port with the real SDK client, while the port
// still serves CRLs.
func TestServeEmbedsRelyingParty(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "anchor.yaml"), []byte(`anywhere:
  region: eu-west-1
  profiles:
    - name: secops
      role_arns: ["arn:aws:iam::000000000000:role/secops"]
`), 0o600)
	var key struct{ AccessKeyId, SecretAccessKey string }
	out := mustAnchor(t, home, "anywhere", "keys", "create", "--data",
		filepath.Join(home, "anywhere"), "--json")
	if err := json.Unmarshal([]byte(out), &key); err != nil || key.AccessKeyId == "" {
		t.Fatalf("keys create: %q %v", out, err)
	}
	base := startServe(t, home)

	client := rolesanywhere.New(rolesanywhere.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(base),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyId,
			key.SecretAccessKey, ""),
	})
	profiles, err := client.ListProfiles(context.Background(), &rolesanywhere.ListProfilesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles.Profiles) != 1 || aws.ToString(profiles.Profiles[0].Name) != "secops" {
		t.Errorf("profiles: %+v", profiles.Profiles)
	}
	if rl, _ := fetchCRL(t, base+"/anchor-issuing-ca-dev.crl"); rl.Number.Sign() <= 0 {
		t.Error("CRL number not positive")
	}
}
