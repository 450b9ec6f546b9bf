package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func folder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrorsNameFileEntryAndField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"not an array", map[string]string{TLSFile: `{"common_name": "x"}`},
			"tls.json: want a JSON array"},
		{"csr outside csrs/", map[string]string{TLSFile: `[{"common_name": "x", "csr_file": "../../etc/passwd"}]`},
			"tls.json[0]: csr_file"},
		{"missing csr file", map[string]string{TLSFile: `[{"common_name": "x", "csr_file": "x.csr"}]`},
			"tls.json[0]: csr_file csrs/x.csr: file not found"},
		{"no csr at all", map[string]string{TLSFile: `[{"common_name": "x"}]`},
			"tls.json[0]: needs csr_file or base64_csr_data"},
		{"bad lifetime", map[string]string{TLSFile: `[{"common_name": "x", "csr_file": "x.csr", "lifetime": "long"}]`,
			"csrs/x.csr": "-"}, "tls.json[0]: lifetime"},
		{"missing common_name", map[string]string{RevokedFile: `[{"serial_number": "12"}]`},
			"revoked.json[0]: common_name is missing"},
		{"bad serial", map[string]string{RevokedFile: `[{"common_name": "x", "serial_number": "0x12"}]`},
			"revoked.json[0]: serial_number"},
		{"hold refused", map[string]string{RevokedRootFile: `[{"common_name": "x", "serial_number": "12", "reason": "certificateHold"}]`},
			"revoked-root-ca.json[0]: reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(folder(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadAcceptsTheServerlessLayout(t *testing.T) {
	f, err := Load(folder(t, map[string]string{
		TLSFile:         `[{"common_name": "web.example.com", "csr_file": "web.csr"}]`,
		"csrs/web.csr":  "-----BEGIN CERTIFICATE REQUEST-----\n",
		RevokedFile:     `[{"common_name": "a", "serial_number": "340282366920938463463374607431768211457"}, {"common_name": "b", "serial_number": 42}]`,
		RevokedRootFile: `[]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Requests) != 1 || f.Requests[0].CSRFile != filepath.Join("csrs", "web.csr") ||
		f.Requests[0].Request.Base64CSRData == "" {
		t.Errorf("requests: %+v", f.Requests)
	}
	if len(f.Revocations) != 2 || f.Revocations[0].Serial.String() !=
		"340282366920938463463374607431768211457" || f.Revocations[1].Serial.Int64() != 42 {
		t.Errorf("revocations: %+v", f.Revocations)
	}
	if len(f.RootRevoked) != 0 {
		t.Errorf("root revocations: %+v", f.RootRevoked)
	}
}
