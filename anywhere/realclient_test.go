package anywhere

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// needTool finds an outside program, failing under CI=true and skipping
// otherwise when it is missing.
func needTool(t *testing.T, install string, names ...string) string {
	t.Helper()
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, n := range names {
		if filepath.IsAbs(n) {
			if _, err := os.Stat(n); err == nil {
				return n
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, d := range dirs {
			if p := filepath.Join(d, n); fileExists(p) {
				return p
			}
		}
	}
	msg := names[0] + " not found; install it with: " + install
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func signingHelper(t *testing.T) string {
	return needTool(t, "go install github.com/aws/rolesanywhere-credential-helper@v1.4.0",
		"aws_signing_helper", "rolesanywhere-credential-helper")
}

// cleanAWSEnv is an environment for the AWS tools that ignores the machine's
// AWS settings.
func cleanAWSEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+dir, "AWS_CONFIG_FILE="+filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	return append(env, extra...)
}

type processCreds struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func TestRealSigningHelper(t *testing.T) {
	helper := signingHelper(t)
	e := newEnv(t, Config{})
	ctx := context.Background()
	dir := t.TempDir()
	inter := e.ca.intermediate(t, "Anchor Test Issuing")

	clients := map[string]*testLeaf{
		"p256":         e.ca.leaf(t, leafOpts{}),
		"p384":         e.ca.leaf(t, leafOpts{keyKind: "p384"}),
		"rsa2048":      e.ca.leaf(t, leafOpts{keyKind: "rsa2048"}),
		"intermediate": inter.leaf(t, leafOpts{}),
	}
	run := func(name, endpoint string) (processCreds, string, error) {
		l := clients[name]
		cert := writeFile(t, dir, name+".crt", []byte(pemCert(l.cert.Raw)))
		key := writeFile(t, dir, name+".key", keyPEM(t, l.key))
		args := []string{"credential-process", "--certificate", cert, "--private-key", key,
			"--trust-anchor-arn", e.taArn, "--profile-arn", e.profileArn,
			"--role-arn", e.roleArn, "--endpoint", endpoint}
		if name == "intermediate" {
			args = append(args, "--intermediates",
				writeFile(t, dir, "inter.pem", []byte(inter.pem())))
		}
		cmd := exec.Command(helper, args...)
		cmd.Env = cleanAWSEnv(dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var pc processCreds
		if err == nil {
			err = json.Unmarshal(stdout.Bytes(), &pc)
		}
		return pc, stderr.String(), err
	}

	for _, tc := range []struct{ client, endpoint string }{
		{"p256", e.ts.URL},
		{"p384", e.ts.URL},
		{"rsa2048", e.ts.URL},
		{"intermediate", e.ts.URL},
		{"p256", e.ts.URL + "/some/prefix"},
	} {
		t.Run(tc.client+" "+strings.TrimPrefix(tc.endpoint, e.ts.URL), func(t *testing.T) {
			pc, stderr, err := run(tc.client, tc.endpoint)
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, stderr)
			}
			if pc.Version != 1 || pc.SessionToken == "" || pc.Expiration == "" {
				t.Fatalf("helper output %+v", pc)
			}
			id, err := stsClient(e.ts.URL, pc.AccessKeyID, pc.SecretAccessKey,
				pc.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			want := "arn:aws:sts::123456789012:assumed-role/BackupWriter/" +
				clients[tc.client].cert.SerialNumber.Text(16)
			if *id.Arn != want {
				t.Errorf("arn %s, want %s", *id.Arn, want)
			}
		})
	}

	// Revoke the P-256 client: the helper reports the server's message and
	// exits 1.
	crl, err := e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name:           aws.String("root"),
		CrlData:        crlPEM(e.ca.crl(t, 1, clients["p256"].cert.SerialNumber)),
		TrustAnchorArn: aws.String(e.taArn), Enabled: aws.Bool(true)})
	if err != nil || !*crl.Crl.Enabled {
		t.Fatal(err)
	}
	_, stderr, err := run("p256", e.ts.URL)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("revoked: want exit 1, got %v", err)
	}
	if !strings.Contains(stderr, "AccessDeniedException: Certificate revoked") {
		t.Fatalf("revoked: stderr %q", stderr)
	}
}

func pemCert(der []byte) string {
	return string(pemBlock("CERTIFICATE", der))
}

func TestRealAWSCLI(t *testing.T) {
	awsCLI := needTool(t, "apt-get update && apt-get install -y awscli", "/usr/bin/aws")
	helper := signingHelper(t)
	e := newEnv(t, Config{})
	dir := t.TempDir()
	l := e.ca.leaf(t, leafOpts{})
	cert := writeFile(t, dir, "c.crt", []byte(pemCert(l.cert.Raw)))
	key := writeFile(t, dir, "c.key", keyPEM(t, l.key))
	writeFile(t, dir, "aws-config", []byte("[default]\nregion = us-east-1\n"+
		"[profile backup]\nregion = us-east-1\ncredential_process = "+helper+
		" credential-process --certificate "+cert+" --private-key "+key+
		" --trust-anchor-arn "+e.taArn+" --profile-arn "+e.profileArn+
		" --role-arn "+e.roleArn+" --endpoint "+e.ts.URL+"\n"))

	aws := func(admin bool, args ...string) (string, string, error) {
		var extra []string
		if admin {
			extra = []string{"AWS_ACCESS_KEY_ID=" + e.key.AccessKeyID,
				"AWS_SECRET_ACCESS_KEY=" + e.key.SecretAccessKey,
				"AWS_DEFAULT_REGION=us-east-1"}
		}
		cmd := exec.Command(awsCLI, append(args, "--endpoint-url", e.ts.URL,
			"--output", "json")...)
		cmd.Env = cleanAWSEnv(dir, extra...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	out, stderr, err := aws(false, "sts", "get-caller-identity", "--profile", "backup")
	if err != nil {
		t.Fatalf("get-caller-identity: %v\n%s", err, stderr)
	}
	var id struct{ Arn, Account, UserId string }
	json.Unmarshal([]byte(out), &id)
	if id.Arn != "arn:aws:sts::123456789012:assumed-role/BackupWriter/"+
		l.cert.SerialNumber.Text(16) || id.Account != "123456789012" {
		t.Fatalf("get-caller-identity: %s", out)
	}

	crlFile := writeFile(t, dir, "crl.pem", crlPEM(e.ca.crl(t, 1, l.cert.SerialNumber)))
	out, stderr, err = aws(true, "rolesanywhere", "import-crl", "--crl-data",
		"fileb://"+crlFile, "--name", "cli-crl", "--trust-anchor-arn", e.taArn)
	if err != nil {
		t.Fatalf("import-crl: %v\n%s", err, stderr)
	}
	var imp struct{ Crl struct{ CrlId string } }
	json.Unmarshal([]byte(out), &imp)
	if len(imp.Crl.CrlId) != 36 {
		t.Fatalf("import-crl output %s", out)
	}
	if _, stderr, err = aws(true, "rolesanywhere", "enable-crl", "--crl-id",
		imp.Crl.CrlId); err != nil {
		t.Fatalf("enable-crl: %v\n%s", err, stderr)
	}
	out, stderr, err = aws(true, "rolesanywhere", "list-crls")
	if err != nil || !strings.Contains(out, `"enabled": true`) {
		t.Fatalf("list-crls: %v %s %s", err, out, stderr)
	}

	_, stderr, err = aws(false, "sts", "get-caller-identity", "--profile", "backup")
	if err == nil || !strings.Contains(stderr,
		"Error when retrieving credentials from custom-process") ||
		!strings.Contains(stderr, "Certificate revoked") {
		t.Fatalf("revoked: err %v stderr %q", err, stderr)
	}
}
