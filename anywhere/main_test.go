package anywhere

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
)

func TestMainKeysCreateAndServe(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"keys", "create", "--data", dir, "--json"}, &out,
		&errb); code != 0 {
		t.Fatalf("keys create: %d %s", code, errb.String())
	}
	var k AccessKey
	if err := json.Unmarshal(out.Bytes(), &k); err != nil || len(k.AccessKeyID) != 20 ||
		len(k.SecretAccessKey) != 40 {
		t.Fatalf("keys create output %q: %v", out.String(), err)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("server.secret: %v %v", err, fi)
	}
	// The database holds the secret only sealed.
	db, _ := os.ReadFile(filepath.Join(dir, DBFile))
	if bytes.Contains(db, []byte(k.SecretAccessKey)) {
		t.Fatal("secret access key stored in clear")
	}

	ca := newRootCA(t, "Declared Root")
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "root.pem", []byte(ca.pem()))
	role := "arn:aws:iam::123456789012:role/Declared"
	cfg := "region: us-east-1\ntrust_anchors:\n  - name: corp-root\n" +
		"    certificate_file: root.pem\nprofiles:\n  - name: declared\n" +
		"    role_arns: [\"" + role + "\"]\n    duration_seconds: 1800\n"
	cfgFile := writeFile(t, cfgDir, "anywhere.yaml", []byte(cfg))

	sctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	codec := make(chan int, 1)
	go func() {
		codec <- Main(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir,
			"--config", cfgFile}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(line[strings.Index(line, "http://"):])

	ra := raClient(base, k)
	tas, err := ra.ListTrustAnchors(ctx, &rolesanywhere.ListTrustAnchorsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantID := nameUUID("trust-anchor", "corp-root")
	if len(tas.TrustAnchors) != 1 || *tas.TrustAnchors[0].TrustAnchorId != wantID ||
		!*tas.TrustAnchors[0].Enabled || !uuidRE.MatchString(wantID) {
		t.Fatalf("declared trust anchor: %+v", tas.TrustAnchors)
	}

	// A session against the declared resources, whose ARNs follow from
	// their names.
	e := &env{t: t, ca: ca, roleArn: role,
		taArn: "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/" + wantID,
		profileArn: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/" +
			nameUUID("profile", "declared")}
	l := ca.leaf(t, leafOpts{})
	req := e.buildSessionAt(base, sessionReq{leaf: l})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var so sessionOutput
	json.NewDecoder(resp.Body).Decode(&so)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("CreateSession: %d", resp.StatusCode)
	}
	exp, _ := time.Parse(time.RFC3339, so.CredentialSet[0].Credentials.Expiration)
	if d := time.Until(exp); d > 30*time.Minute || d < 29*time.Minute {
		t.Errorf("declared profile duration: expires in %v", d)
	}

	cancel()
	select {
	case code := <-codec:
		if code != 0 {
			t.Fatalf("serve exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}

	if code := Main(ctx, []string{"bogus"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
	if code := Main(ctx, []string{"serve"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("serve without --data exit %d, want 2", code)
	}
}
