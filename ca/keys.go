package ca

import (
	"context"
	"crypto"
	"os"
	"path/filepath"

	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/signer/file"
)

// FileKeys keeps CA keys as PKCS#8 PEM files in Dir, mode 0600, encrypted when
// Passphrase is set.
type FileKeys struct {
	Dir        string
	Passphrase []byte
}

// Create makes a new key file named ref.
func (k FileKeys) Create(_ context.Context, ref string, kt signer.KeyType) (crypto.Signer, error) {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	return file.Create(filepath.Join(k.Dir, ref), kt, k.Passphrase)
}

// Load reads the key file named ref.
func (k FileKeys) Load(_ context.Context, ref string) (crypto.Signer, error) {
	return file.Load(filepath.Join(k.Dir, ref), k.Passphrase)
}
