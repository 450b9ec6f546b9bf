package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests in this package drive the real anchor binary, built once by
// TestMain, as a user would: separate processes sharing a home folder.
var anchorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "anchor-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	anchorBin = filepath.Join(dir, "anchor")
	build := exec.Command("go", "build", "-o", anchorBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building anchor:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is the outcome of one anchor command.
type result struct {
	stdout, stderr string
	code           int
}

// anchor runs the binary with ANCHOR_HOME=home and returns its outcome.
func anchor(t *testing.T, home string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, anchorBin, args...)
	cmd.Env = append(os.Environ(), "ANCHOR_HOME="+home, "ANCHOR_KEY_PASSPHRASE=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("anchor %v: %v", args, err)
	}
	return r
}

// mustAnchor runs a command that must succeed.
func mustAnchor(t *testing.T, home string, args ...string) string {
	t.Helper()
	r := anchor(t, home, args...)
	if r.code != 0 {
		t.Fatalf("anchor %s: exit %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// needTool finds an outside tool; missing, it fails under CI and skips elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required (scripts/test installs it): %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// runTool runs an outside command and returns its combined output and error.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// listJSON returns anchor list --json.
func listJSON(t *testing.T, home string) []certJSON {
	t.Helper()
	var certs []certJSON
	if err := json.Unmarshal([]byte(mustAnchor(t, home, "list", "--json")), &certs); err != nil {
		t.Fatal(err)
	}
	return certs
}

// pemDecode returns the bytes of the first PEM block.
func pemDecode(data []byte) ([]byte, bool) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false
	}
	return block.Bytes, true
}
