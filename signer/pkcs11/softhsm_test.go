//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/signer"
)

const (
	tokenLabel     = "anchor-test"
	userPIN        = "1234"
	softhsmInstall = "apt-get install -y softhsm2"
)

// Places Debian, Ubuntu, Fedora and Homebrew put SoftHSM's module.
var softhsmModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// The token lives for the whole test binary: the PKCS#11 library reads
// SOFTHSM2_CONF once, when it is first initialized, so every test shares it.
var (
	tokenOnce   sync.Once
	tokenDir    string
	tokenModule string
	tokenErr    string // why there is no token; empty if there is
	tokenFatal  bool   // the reason is a failure, not a missing tool
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tokenDir != "" {
		os.RemoveAll(tokenDir)
	}
	os.Exit(code)
}

func setUpToken() {
	util, err := exec.LookPath("softhsm2-util")
	for _, p := range softhsmModules {
		if _, serr := os.Stat(p); serr == nil {
			tokenModule = p
			break
		}
	}
	if err != nil || tokenModule == "" {
		tokenErr = "SoftHSM2 is not installed (softhsm2-util or libsofthsm2.so missing); " +
			"install it with: " + softhsmInstall
		return
	}
	tokenFatal = true
	dir, err := os.MkdirTemp("", "anchor-softhsm-")
	if err != nil {
		tokenErr = err.Error()
		return
	}
	tokenDir = dir
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		tokenErr = err.Error()
		return
	}
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\n"+
		"log.level = ERROR\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tokenErr = err.Error()
		return
	}
	// With cgo, os.Setenv also sets the C environment the module reads.
	os.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", tokenLabel,
		"--pin", userPIN, "--so-pin", "5678").CombinedOutput()
	if err != nil {
		tokenErr = fmt.Sprintf("softhsm2-util --init-token: %v\n%s", err, out)
	}
}

// token returns the module path of the test token, or fails or skips.
func token(t testing.TB) string {
	t.Helper()
	tokenOnce.Do(setUpToken)
	if tokenErr != "" {
		if tokenFatal || os.Getenv("CI") == "true" {
			t.Fatal(tokenErr)
		}
		t.Skip(tokenErr)
	}
	return tokenModule
}

func open(t testing.TB) *Context {
	t.Helper()
	c, err := Open(Config{Module: token(t), TokenLabel: tokenLabel, PIN: userPIN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGenerateSignReload(t *testing.T) {
	tests := []struct {
		kt       signer.KeyType
		describe string
		hash     crypto.Hash
		sigAlg   x509.SignatureAlgorithm
	}{
		{signer.ECDSAP256, "ECDSA P-256", crypto.SHA256, x509.ECDSAWithSHA256},
		{signer.ECDSAP384, "ECDSA P-384", crypto.SHA384, x509.ECDSAWithSHA384},
		{signer.RSA2048, "RSA 2048", crypto.SHA256, x509.SHA256WithRSA},
	}
	for _, tc := range tests {
		t.Run(string(tc.kt), func(t *testing.T) {
			label := "ca-" + string(tc.kt)
			first := open(t)
			k, err := first.Generate(label, tc.kt)
			if err != nil {
				t.Fatal(err)
			}
			if got := signer.Describe(k.Public()); got != tc.describe {
				t.Fatalf("generated %s, want %s", got, tc.describe)
			}
			want := fmt.Sprintf("%s key %q on PKCS#11 token %q", tc.describe, label, tokenLabel)
			if got := fmt.Sprint(k); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			checkSign(t, k, tc.hash)

			_, err = first.Generate(label, tc.kt)
			if !errors.Is(err, ErrKeyExists) || !errors.Is(err, fs.ErrExist) {
				t.Fatalf("second Generate: err = %v, want ErrKeyExists", err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			d := make([]byte, tc.hash.Size())
			if _, err := k.Sign(rand.Reader, d, tc.hash); err == nil {
				t.Error("a signer of a closed context still signs")
			}

			// A second context finds the same key by its label.
			second := open(t)
			again, err := second.Signer(label)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(again.Public(), k.Public()) {
				t.Fatal("reloaded key has a different public key")
			}
			checkSign(t, again, tc.hash)
			checkCertificate(t, again, tc.sigAlg)
		})
	}
}

func TestRSAPSS(t *testing.T) {
	c := open(t)
	k, err := c.Generate("ca-pss", signer.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("tbsCertList"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
	sig, err := k.Sign(rand.Reader, d[:], opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(k.Public().(*rsa.PublicKey), crypto.SHA384, d[:], sig,
		opts); err != nil {
		t.Fatalf("PSS signature does not verify: %v", err)
	}
}

func TestSignerErrors(t *testing.T) {
	c := open(t)
	if _, err := c.Signer("no-such-key"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: err = %v, want ErrKeyNotFound", err)
	}
	_, err := c.Signer("")
	if err == nil || !strings.Contains(err.Error(), "label is empty") {
		t.Errorf("empty label: err = %v", err)
	}
	if _, err := c.Generate("odd", "ed448"); err == nil ||
		!strings.Contains(err.Error(), `unknown key type "ed448"`) {
		t.Errorf("unknown key type: err = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Signer("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}

func TestOpenErrors(t *testing.T) {
	module := token(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no module", Config{TokenLabel: tokenLabel, PIN: userPIN}, "Module"},
		{"no token", Config{Module: module, PIN: userPIN}, "TokenLabel is empty"},
		{"no PIN", Config{Module: module, TokenLabel: tokenLabel}, "PIN is empty"},
		{"missing module", Config{Module: "/nonexistent/libp11.so", TokenLabel: tokenLabel,
			PIN: userPIN}, "/nonexistent/libp11.so: no such file"},
		{"unknown token", Config{Module: module, TokenLabel: "nope", PIN: userPIN},
			`token "nope"`},
		{"wrong PIN", Config{Module: module, TokenLabel: tokenLabel, PIN: "9999"},
			"CKR_PIN_INCORRECT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.cfg.PIN != "" && strings.Contains(err.Error(), tc.cfg.PIN) {
				t.Errorf("error %q shows the PIN", err)
			}
		})
	}
}

func TestConfigHidesPIN(t *testing.T) {
	cfg := Config{Module: "/m.so", TokenLabel: "ca", PIN: "s3cr3t-pin"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, cfg)
		if got != `PKCS#11 token "ca" via /m.so` {
			t.Errorf("Sprintf(%q) = %q", verb, got)
		}
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

func checkSign(t *testing.T, k crypto.Signer, h crypto.Hash) {
	t.Helper()
	hh := h.New()
	hh.Write([]byte("tbsCertificate"))
	d := hh.Sum(nil)
	sig, err := k.Sign(rand.Reader, d, h)
	if err != nil {
		t.Fatal(err)
	}
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, d, sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
			t.Fatalf("RSA signature does not verify: %v", err)
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func checkCertificate(t *testing.T, k crypto.Signer, want x509.SignatureAlgorithm) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Anchor PKCS#11 test root"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SignatureAlgorithm != want {
		t.Errorf("signature algorithm %s, want %s", cert.SignatureAlgorithm, want)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Fatalf("certificate does not verify: %v", err)
	}
}

func BenchmarkSignP256(b *testing.B) {
	c := open(b)
	k, err := c.Generate("bench-p256", signer.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("tbsCertList"))
	for b.Loop() {
		if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
