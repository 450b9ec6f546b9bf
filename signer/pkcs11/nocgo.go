//go:build !cgo

package pkcs11

import (
	"crypto"

	"github.com/anchorpki/anchor/signer"
)

// Context would be a connection to a token; without cgo there is none.
type Context struct{}

// Open returns ErrNoCgo: this build has no cgo, which PKCS#11 needs.
func Open(cfg Config) (*Context, error) { return nil, ErrNoCgo }

// Signer returns ErrNoCgo.
func (c *Context) Signer(keyLabel string) (crypto.Signer, error) { return nil, ErrNoCgo }

// Generate returns ErrNoCgo.
func (c *Context) Generate(keyLabel string, kt signer.KeyType) (crypto.Signer, error) {
	return nil, ErrNoCgo
}

// Close does nothing.
func (c *Context) Close() error { return nil }
