package file

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anchorpki/anchor/signer"
)

var testPassphrase = []byte("correct horse battery staple")

// Generating RSA keys is slow, RSA 4096 especially, so each type is made once.
var (
	keysMu sync.Mutex
	keys   = map[signer.KeyType]crypto.Signer{}
)

func testKey(t testing.TB, kt signer.KeyType) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[kt]; ok {
		return k
	}
	k, err := kt.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	keys[kt] = k
	return k
}

func publicPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// checkSigns signs a message through s and verifies the signature with the
// expected public key.
func checkSigns(t *testing.T, s crypto.Signer, want crypto.PublicKey) {
	t.Helper()
	msg := []byte("thisUpdate 2026-01-01T00:00:00Z")
	switch pub := want.(type) {
	case *ecdsa.PublicKey:
		h := crypto.SHA256
		if pub.Curve == elliptic.P384() {
			h = crypto.SHA384
		} else if pub.Curve == elliptic.P521() {
			h = crypto.SHA512
		}
		hh := h.New()
		hh.Write(msg)
		d := hh.Sum(nil)
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(pub, d, sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("RSA signature does not verify: %v", err)
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatal("Ed25519 signature does not verify")
		}
	default:
		t.Fatalf("unexpected public key type %T", want)
	}
}

func TestSaveLoadEveryKeyType(t *testing.T) {
	for _, kt := range signer.KeyTypes {
		for _, pass := range [][]byte{nil, testPassphrase} {
			t.Run(fmt.Sprintf("%s/encrypted=%v", kt, pass != nil), func(t *testing.T) {
				t.Parallel()
				key := testKey(t, kt)
				path := filepath.Join(t.TempDir(), "ca.key")
				if err := Save(path, key, pass); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
				}
				data, _ := os.ReadFile(path)
				wantType := BlockPrivateKey
				if pass != nil {
					wantType = BlockEncryptedPrivateKey
				}
				if b, _ := pem.Decode(data); b == nil || b.Type != wantType {
					t.Fatalf("file does not start with a %q PEM block", wantType)
				}

				got, err := Load(path, pass)
				if err != nil {
					t.Fatal(err)
				}
				if publicPEM(t, got.Public()) != publicPEM(t, key.Public()) {
					t.Fatal("loaded public key differs from the saved one")
				}
				checkSigns(t, got, key.Public())
			})
		}
	}
}

func TestCreate(t *testing.T) {
	for _, kt := range []signer.KeyType{signer.ECDSAP256, signer.ECDSAP384, signer.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "issuing.key")
			created, err := Create(path, kt, testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			if got := signer.Describe(created.Public()); got != describe(kt) {
				t.Errorf("created key is %s, want %s", got, describe(kt))
			}
			loaded, err := Load(path, testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			if publicPEM(t, loaded.Public()) != publicPEM(t, created.Public()) {
				t.Fatal("loaded public key differs from the created one")
			}
			checkSigns(t, loaded, created.Public())
			checkSigns(t, created, created.Public())

			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != "issuing.key" {
				t.Errorf("folder holds %v, want only issuing.key", entries)
			}
		})
	}
}

func describe(kt signer.KeyType) string {
	return map[signer.KeyType]string{
		signer.ECDSAP256: "ECDSA P-256", signer.ECDSAP384: "ECDSA P-384",
		signer.RSA2048: "RSA 2048",
	}[kt]
}

func TestCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "root.key")
	if _, err := Create(path, signer.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	_, err := Create(path, signer.ECDSAP256, nil)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: err = %v, want fs.ErrExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	// Save skips Create's early check, so this exercises the atomic link.
	err = Save(path, testKey(t, signer.ECDSAP256), nil)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over an existing key: err = %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file was changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1 (temporary file left behind?)", len(entries))
	}
}

func TestCreateMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "ca.key")
	if _, err := Create(path, signer.ECDSAP256, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, signer.ECDSAP256)
	plain, err := Marshal(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := Marshal(key, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})
	badDER := pem.EncodeToMemory(&pem.Block{Type: BlockPrivateKey,
		Bytes: []byte{0x30, 3, 1}})
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(smallRSA)
	small := pem.EncodeToMemory(&pem.Block{Type: BlockPrivateKey, Bytes: smallDER})

	tests := []struct {
		name       string
		data       []byte
		mode       os.FileMode
		passphrase []byte
		is         error
		contains   []string
	}{
		{"wrong passphrase", encrypted, 0o600, []byte("wrong"), ErrWrongPassphrase,
			[]string{"wrong passphrase"}},
		{"no passphrase", encrypted, 0o600, nil, ErrPassphraseRequired,
			[]string{"--passphrase-file", "ANCHOR_KEY_PASSPHRASE"}},
		{"group readable", plain, 0o640, nil, ErrPermissions,
			[]string{"mode 0640", "chmod 600"}},
		{"world readable", encrypted, 0o644, testPassphrase, ErrPermissions,
			[]string{"mode 0644"}},
		{"executable", plain, 0o700, nil, ErrPermissions, []string{"mode 0700"}},
		{"not PEM", []byte("hello\n"), 0o600, nil, nil, []string{"not PEM"}},
		{"empty", nil, 0o600, nil, nil, []string{"not PEM"}},
		{"legacy SEC 1", sec1, 0o600, nil, nil,
			[]string{`"EC PRIVATE KEY"`, "openssl pkcs8 -topk8"}},
		{"certificate", cert, 0o600, nil, nil,
			[]string{`PEM block type "CERTIFICATE" is not a private key`}},
		{"bad DER", badDER, 0o600, nil, nil, []string{"malformed PKCS #8"}},
		{"RSA 1024", small, 0o600, nil, signer.ErrKeyPolicy, []string{"1024 bits"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("k%d.pem", i))
			if err := os.WriteFile(path, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			_, err := Load(path, tc.passphrase)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.is)
			}
			msg := err.Error()
			for _, s := range append(tc.contains, path) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
			assertNoKeyBytes(t, msg, tc.data)
			assertNoKeyBytes(t, msg, plain)
		})
	}
}

// assertNoKeyBytes fails if msg holds any 12-character run of a PEM body.
func assertNoKeyBytes(t *testing.T, msg string, pemData []byte) {
	t.Helper()
	b, _ := pem.Decode(pemData)
	if b == nil {
		return
	}
	body := string(pem.EncodeToMemory(&pem.Block{Bytes: b.Bytes}))
	body = strings.ReplaceAll(body, "\n", "")
	body = strings.TrimPrefix(strings.TrimSuffix(body, "-----END -----"), "-----BEGIN -----")
	for i := 0; i+12 <= len(body); i++ {
		if strings.Contains(msg, body[i:i+12]) {
			t.Fatalf("error message contains key bytes: %q", msg)
		}
	}
}

func TestLoadStricterModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := filepath.Join(t.TempDir(), "ca.key")
		if err := Save(path, testKey(t, signer.ECDSAP256), nil); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, nil); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want a not-a-regular-file error", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.key"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadedKeyDoesNotPrintKeyMaterial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.key")
	s, err := Create(path, signer.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "ECDSA P-256 key from " + path
	priv := s.(*fileKey).key.(*ecdsa.PrivateKey)
	secret, _ := priv.Bytes()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		got := fmt.Sprintf(verb, s)
		if got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
		if strings.Contains(got, fmt.Sprintf("%x", secret)) {
			t.Errorf("Sprintf(%q) reveals the private scalar", verb)
		}
	}
	if _, ok := s.(*ecdsa.PrivateKey); ok {
		t.Error("Create returned the raw private key")
	}
	if _, err := Marshal(s, nil); err == nil {
		t.Error("Marshal exported a loaded key")
	}
}

func TestParseSkipsECParameters(t *testing.T) {
	key := testKey(t, signer.ECDSAP256)
	plain, _ := Marshal(key, nil)
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS",
		Bytes: []byte{6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7}})
	got, err := Parse(append(params, plain...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if publicPEM(t, got.Public()) != publicPEM(t, key.Public()) {
		t.Fatal("wrong key")
	}
}

func TestParseEd25519(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	data, err := Marshal(priv, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, got, priv.Public())
}

func TestReadPassphraseFile(t *testing.T) {
	tests := []struct {
		content string
		want    string
		err     string
	}{
		{"secret", "secret", ""},
		{"secret\n", "secret", ""},
		{"secret\r\n", "secret", ""},
		{"two words\nsecond line\n", "two words", ""},
		{" spaced \n", " spaced ", ""},
		{"", "", "first line is empty"},
		{"\nsecret\n", "", "first line is empty"},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPassphraseFile(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.content, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.content, got, err, tc.want)
		}
	}
}

// requireTool returns the path of an outside tool, or fails (in CI) or skips.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; install it with: %s", name, install)
		}
		t.Skipf("%s is not installed (install it with: %s)", name, install)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func writePassphrase(t *testing.T, dir string, pass []byte) string {
	t.Helper()
	path := filepath.Join(dir, "pw")
	if err := os.WriteFile(path, append(bytes.Clone(pass), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenSSLReadsAnchorKeys checks that OpenSSL decrypts Anchor's key files and
// finds the same public key in them.
func TestOpenSSLReadsAnchorKeys(t *testing.T) {
	openssl := requireTool(t, "openssl", "apt-get install -y openssl")
	for _, kt := range signer.KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pw := writePassphrase(t, dir, testPassphrase)
			key := testKey(t, kt)
			path := filepath.Join(dir, "ca.key")
			if err := Save(path, key, testPassphrase); err != nil {
				t.Fatal(err)
			}

			run(t, openssl, "pkey", "-in", path, "-passin", "file:"+pw, "-noout")
			got := run(t, openssl, "pkey", "-in", path, "-passin", "file:"+pw, "-pubout")
			if got != publicPEM(t, key.Public()) {
				t.Fatalf("openssl's public key differs:\n%s", got)
			}

			if kt != signer.ECDSAP256 {
				return // one wrong-passphrase run (600,000 iterations) is enough
			}
			bad := writePassphrase(t, t.TempDir(), []byte("wrong"))
			err := exec.Command(openssl, "pkey", "-in", path, "-passin", "file:"+bad,
				"-noout").Run()
			if err == nil {
				t.Fatal("openssl read the key with a wrong passphrase")
			}
		})
	}
}

// TestOpenSSLSeesParameters checks the algorithm identifiers in Anchor's
// encrypted key as OpenSSL's ASN.1 parser names them.
func TestOpenSSLSeesParameters(t *testing.T) {
	openssl := requireTool(t, "openssl", "apt-get install -y openssl")
	path := filepath.Join(t.TempDir(), "ca.key")
	if err := Save(path, testKey(t, signer.ECDSAP256), testPassphrase); err != nil {
		t.Fatal(err)
	}
	out := run(t, openssl, "asn1parse", "-in", path)
	for _, want := range []string{
		":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc",
		"INTEGER           :0927C0", // 600,000 iterations
		"OCTET STRING      [HEX DUMP]:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("asn1parse output lacks %q:\n%s", want, out)
		}
	}
	var hexes []string
	for _, line := range strings.Split(out, "\n") {
		if _, h, ok := strings.Cut(line, "[HEX DUMP]:"); ok {
			hexes = append(hexes, h)
		}
	}
	// salt, IV, encryptedData
	if len(hexes) != 3 || len(hexes[0]) != 32 || len(hexes[1]) != 32 {
		t.Errorf("want a 16-byte salt and IV, got %q", hexes)
	}
}

// TestAnchorReadsOpenSSLKeys loads keys that OpenSSL encrypted in the ways the
// package documentation names, and a few older variants.
func TestAnchorReadsOpenSSLKeys(t *testing.T) {
	openssl := requireTool(t, "openssl", "apt-get install -y openssl")
	dir := t.TempDir()
	pw := writePassphrase(t, dir, testPassphrase)

	tests := []struct {
		name string
		args []string // output goes to the file "out"
		in   signer.KeyType
	}{
		{"genpkey EC P-256", []string{"genpkey", "-algorithm", "EC",
			"-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", "file:" + pw}, ""},
		{"genpkey RSA 2048", []string{"genpkey", "-algorithm", "RSA",
			"-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc", "-pass", "file:" + pw}, ""},
		{"genpkey EC P-521 aes-128-cbc", []string{"genpkey", "-algorithm", "EC",
			"-pkeyopt", "ec_paramgen_curve:P-521", "-aes-128-cbc", "-pass", "file:" + pw}, ""},
		{"pkcs8 sha256 aes-256", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc",
			"-v2prf", "hmacWithSHA256", "-passout", "file:" + pw}, signer.ECDSAP384},
		{"pkcs8 sha256 aes-256 RSA 3072", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc",
			"-v2prf", "hmacWithSHA256", "-passout", "file:" + pw}, signer.RSA3072},
		{"pkcs8 default", []string{"pkcs8", "-topk8", "-passout", "file:" + pw},
			signer.ECDSAP256},
		{"pkcs8 sha1 aes-192", []string{"pkcs8", "-topk8", "-v2", "aes-192-cbc",
			"-v2prf", "hmacWithSHA1", "-passout", "file:" + pw}, signer.ECDSAP256},
		{"pkcs8 sha512 aes-128 iter 1000", []string{"pkcs8", "-topk8", "-v2", "aes-128-cbc",
			"-v2prf", "hmacWithSHA512", "-iter", "1000", "-passout", "file:" + pw},
			signer.ECDSAP256},
		{"pkcs8 nocrypt", []string{"pkcs8", "-topk8", "-nocrypt"}, signer.RSA2048},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d.pem", i))
			args := append(tc.args, "-out", out)
			if tc.in != "" {
				in := filepath.Join(dir, fmt.Sprintf("in%d.pem", i))
				if err := Save(in, testKey(t, tc.in), nil); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-in", in)
			}
			run(t, openssl, args...)
			if err := os.Chmod(out, 0o600); err != nil {
				t.Fatal(err)
			}

			key, err := Load(out, testPassphrase)
			if err != nil {
				t.Fatal(err)
			}
			want := run(t, openssl, "pkey", "-in", out, "-passin", "file:"+pw, "-pubout")
			if got := publicPEM(t, key.Public()); got != want {
				t.Fatalf("public key differs from openssl's:\n%s\nwant\n%s", got, want)
			}
			checkSigns(t, key, key.Public())
		})
	}
}

func TestAnchorRejectsPBES1(t *testing.T) {
	openssl := requireTool(t, "openssl", "apt-get install -y openssl")
	dir := t.TempDir()
	pw := writePassphrase(t, dir, testPassphrase)
	in := filepath.Join(dir, "in.pem")
	if err := Save(in, testKey(t, signer.ECDSAP256), nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pem")
	run(t, openssl, "pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES", "-in", in,
		"-passout", "file:"+pw, "-out", out)
	data, _ := os.ReadFile(out)
	_, err := Parse(data, testPassphrase)
	if err == nil || !strings.Contains(err.Error(), "want PBES2") ||
		!strings.Contains(err.Error(), "openssl pkcs8 -topk8 -v2 aes-256-cbc") {
		t.Fatalf("err = %v, want an unsupported-PBES1 error with a fix", err)
	}
}

func BenchmarkLoadEncrypted(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ca.key")
	if err := Save(path, testKey(b, signer.ECDSAP256), testPassphrase); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(path, testPassphrase); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadPlain(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ca.key")
	if err := Save(path, testKey(b, signer.ECDSAP256), nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(path, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignP256(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ca.key")
	if err := Save(path, testKey(b, signer.ECDSAP256), nil); err != nil {
		b.Fatal(err)
	}
	s, err := Load(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	d := sha512.Sum512_256([]byte("tbsCertList"))
	for b.Loop() {
		if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
