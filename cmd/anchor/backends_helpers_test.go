package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Helpers for the tests of the production backends: PostgreSQL, replicas of
// anchor serve, SoftHSM2, local-kms and an S3 server.

// missing fails the test under CI and skips it elsewhere, saying how to get
// what is missing.
func missing(t *testing.T, what, how string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required: %s", what, how)
	}
	t.Skipf("%s is missing: %s", what, how)
}

// postgresSchema creates a schema of its own for one test on the server named
// by ANCHOR_TEST_POSTGRES, drops it when the test ends, and returns a DSN whose
// search_path puts the store's tables there.
func postgresSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("ANCHOR_TEST_POSTGRES")
	if dsn == "" {
		missing(t, "ANCHOR_TEST_POSTGRES", "install PostgreSQL (apt-get install -y "+
			"postgresql) and run `source scripts/postgres.sh && start_postgres` first")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("ANCHOR_TEST_POSTGRES %q is not a postgres:// URL", dsn)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to ANCHOR_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	schema := "anchor_cli_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// writeConfig writes HOME/anchor.yaml.
func writeConfig(t *testing.T, home, yaml string) {
	t.Helper()
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "anchor.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyKeys copies the CA key files of one home into another, mode 0600, as an
// operator gives a second replica the same keys.
func copyKeys(t *testing.T, from, to string) {
	t.Helper()
	src := filepath.Join(from, "keys")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(to, "keys")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%s holds %d key files, want the root's and the issuing CA's", src, n)
	}
}

// replica is one `anchor serve` process of a test.
type replica struct {
	name string
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{} // closed when the process has exited
}

// startReplica runs `anchor serve --replica name` for home on a free loopback
// port and waits until it answers /healthz. The process is interrupted when
// the test ends, if it still runs.
func startReplica(t *testing.T, home, name string) *replica {
	t.Helper()
	addr := freeAddr(t)
	r := &replica{name: name, base: "http://" + addr, logs: &syncBuffer{},
		done: make(chan struct{})}
	r.cmd = exec.Command(anchorBin, "serve", "--addr", addr, "--replica", name)
	r.cmd.Env = append(os.Environ(), "ANCHOR_HOME="+home, "ANCHOR_KEY_PASSPHRASE=")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("replica %s log:\n%s", name, r.logs.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("replica %s exited:\n%s", name, r.logs.String())
		default:
		}
		resp, err := http.Get(r.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %s did not come up:\n%s", name, r.logs.String())
	return nil
}

// kill ends the replica with SIGKILL, as a crash would: it releases nothing.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// stop interrupts the replica and waits for it to shut down.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Errorf("replica %s did not stop within 30 s of an interrupt", r.name)
		r.cmd.Process.Kill()
		<-r.done
	}
}

// waitLog waits until the replica's log has a line containing text, and
// returns the time it noticed.
func (r *replica) waitLog(t *testing.T, text string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if strings.Contains(r.logs.String(), text) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s logged no %q within %v:\n%s", r.name, text, limit,
				r.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publication is one "CRL published" line of a replica's log.
type publication struct {
	at      time.Time
	replica string
	issuer  string
	number  string
}

var publishedRE = regexp.MustCompile(`time=(\S+) level=INFO msg="CRL published" ` +
	`issuer=(\S+) crl_number=(\d+) `)

// publications returns the CRLs the replica logged as published, in log order.
func (r *replica) publications(t *testing.T) []publication {
	t.Helper()
	var out []publication
	sc := bufio.NewScanner(strings.NewReader(r.logs.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := publishedRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("replica %s: log time %q: %v", r.name, m[1], err)
		}
		out = append(out, publication{at: at, replica: r.name, issuer: m[2], number: m[3]})
	}
	return out
}

// checkNumbersIncrease checks that, per issuer, the CRL numbers of all
// publications, ordered by the time they were logged, strictly increase.
func checkNumbersIncrease(t *testing.T, pubs []publication) {
	t.Helper()
	sort.SliceStable(pubs, func(i, j int) bool { return pubs[i].at.Before(pubs[j].at) })
	last := map[string]publication{}
	for _, p := range pubs {
		prev, ok := last[p.issuer]
		if ok && !numberLess(prev.number, p.number) {
			t.Errorf("%s: CRL %s by %s at %s follows CRL %s by %s at %s", p.issuer,
				p.number, p.replica, p.at.Format(time.RFC3339Nano), prev.number,
				prev.replica, prev.at.Format(time.RFC3339Nano))
		}
		last[p.issuer] = p
	}
}

// numberLess compares two decimal numbers without leading zeros.
func numberLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// noPrivateKeys walks dir and fails if any file holds a PEM private key.
func noPrivateKeys(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("%s is empty: nothing was checked", dir)
	}
}

// startSoftHSM makes a SoftHSM2 token labelled "anchor" (user PIN 1234) in a
// temporary folder, points SOFTHSM2_CONF at it for the rest of the test, and
// returns the module's path.
func startSoftHSM(t *testing.T) string {
	t.Helper()
	const how = "apt-get install -y softhsm2"
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		missing(t, "softhsm2-util", how)
	}
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	if module == "" {
		missing(t, "libsofthsm2.so", how)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\n"+
		"log.level = ERROR\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "anchor",
		"--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return module
}

const localKMSInstall = "go install " +
	"github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"

var localKMSStarted = regexp.MustCompile(`Local KMS started on [0-9.]+:(\d+)`)

// startLocalKMS runs local-kms in region with its data in a temporary folder
// and returns its loopback endpoint. local-kms chooses the port (PORT=0) and
// logs it, so there is no race for a free port.
func startLocalKMS(t *testing.T, region string) string {
	t.Helper()
	bin, err := exec.LookPath("local-kms")
	if err != nil {
		for _, gp := range filepath.SplitList(build.Default.GOPATH) {
			p := filepath.Join(gp, "bin", "local-kms")
			if fi, serr := os.Stat(p); serr == nil && fi.Mode().IsRegular() {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		missing(t, "local-kms", localKMSInstall)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=0", "HOME=" + dir,
		"KMS_DATA_PATH=" + filepath.Join(dir, "data"),
		"KMS_SEED_PATH=" + filepath.Join(dir, "none.yaml"),
		"KMS_REGION=" + region, "KMS_ACCOUNT_ID=111122223333"}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start local-kms: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	logs := &syncBuffer{}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := localKMSStarted.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p := <-port:
		return "http://127.0.0.1:" + p
	case <-exited:
		t.Fatalf("local-kms exited before it listened:\n%s", logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("local-kms did not listen within 60 s:\n%s", logs.String())
	}
	return ""
}

// startFakeS3 runs an in-memory S3 server (gofakes3) on 127.0.0.1 inside the
// test process, with one empty bucket, and returns its URL.
func startFakeS3(t *testing.T, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	return ts.URL
}

// isolateAWS keeps the developer's AWS files and variables out of the anchor
// processes a test starts, and gives them dummy static credentials.
func isolateAWS(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ACCESS_KEY_ID":           "AKIDANCHORTEST",
		"AWS_SECRET_ACCESS_KEY":       "anchor-test-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_ENDPOINT_URL_KMS":        "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}
