package anywhere

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name of the server secret inside the data folder.
const SecretFile = "server.secret"

// sealer encrypts stored secrets (admin and session secret access keys) with
// AES-256-GCM. The key is derived from the server secret, so a copy of the
// database alone reveals no usable credential.
type sealer struct {
	aead cipher.AEAD
}

// loadServerSecret reads dir/server.secret, creating it (32 random bytes,
// mode 0600) when absent, and refuses a file readable by others.
func loadServerSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return loadServerSecret(dir) // another process won the race
		}
		if err != nil {
			return nil, fmt.Errorf("anywhere: create %s: %w", path, err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("anywhere: write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("anywhere: read %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("anywhere: %s must not be readable by group or others "+
			"(mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("anywhere: %s is shorter than 32 bytes", path)
	}
	return b, nil
}

func newSealer(secret []byte) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "anchor anywhere seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plaintext bound to id (the access key id).
func (s *sealer) seal(id, plaintext string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+16)
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(id))
}

// open decrypts a value sealed for id.
func (s *sealer) open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("anywhere: sealed secret too short")
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("anywhere: cannot unseal secret of %s "+
			"(wrong server.secret?)", id)
	}
	return string(pt), nil
}

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newAccessKeyID returns prefix followed by 16 upper-case base32 characters,
// the shape of an AWS access key id (AKIA... for admin, ASIA... for sessions).
func newAccessKeyID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + keyIDEncoding.EncodeToString(b)
}

// newSecret returns nbytes random bytes in standard base64 (30 bytes give
// the 40 characters of an AWS secret access key).
func newSecret(nbytes int) string {
	b := make([]byte, nbytes)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID in its 36-character form.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return formatUUID(b, 4)
}

// nameUUID derives a stable UUID (version 8, RFC 9562) from a kind and a
// name, so that resources declared in configuration keep their ARNs across
// fresh installs.
func nameUUID(kind, name string) string {
	h := sha256.Sum256([]byte("anchor anywhere " + kind + "\x00" + name))
	return formatUUID(h[:16], 8)
}

func formatUUID(b []byte, version byte) string {
	b[6] = b[6]&0x0f | version<<4
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
