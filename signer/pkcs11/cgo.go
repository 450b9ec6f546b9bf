//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ThalesGroup/crypto11"

	"github.com/anchorpki/anchor/signer"
)

// Context is a logged-in connection to one token. It is safe for concurrent use.
type Context struct {
	token string

	mu     sync.Mutex // guards closed; Close must not run twice
	closed bool
	ctx    *crypto11.Context
}

// Open loads the module, finds the token labelled cfg.TokenLabel and logs in
// with cfg.PIN.
func Open(cfg Config) (*Context, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// The PKCS#11 loader says only "failed to open module" when the file is
	// missing; say which file.
	if _, err := os.Stat(cfg.Module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w", err)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:       cfg.Module,
		TokenLabel: cfg.TokenLabel,
		Pin:        cfg.PIN,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg, err)
	}
	return &Context{token: cfg.TokenLabel, ctx: ctx}, nil
}

// Signer returns a signer for the key pair labelled keyLabel. It fails, wrapping
// ErrKeyNotFound, if there is none, and if several key pairs carry the label,
// since Anchor cannot tell which one is the CA's.
func (c *Context) Signer(keyLabel string) (crypto.Signer, error) {
	ctx, err := c.live()
	if err != nil {
		return nil, err
	}
	keys, err := c.find(ctx, keyLabel)
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("key %q on token %q: %w", keyLabel, c.token, ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("key %q on token %q: %d key pairs carry this label "+
			"(want exactly one)", keyLabel, c.token, len(keys))
	}
	return c.wrap(keys[0], keyLabel)
}

// Generate makes a new key pair of type kt on the token, labelled keyLabel, and
// returns a signer for it. The private key is sensitive and not extractable. If
// a key pair with the label exists, Generate makes nothing and returns an error
// wrapping ErrKeyExists.
func (c *Context) Generate(keyLabel string, kt signer.KeyType) (crypto.Signer, error) {
	ctx, err := c.live()
	if err != nil {
		return nil, err
	}
	keys, err := c.find(ctx, keyLabel)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("generate key %q on token %q: %w", keyLabel, c.token,
			ErrKeyExists)
	}
	// CKA_ID ties the private and public objects together; a random one cannot
	// collide with keys made by other tools.
	id := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, id); err != nil {
		return nil, err
	}

	var k crypto11.Signer
	switch kt {
	case signer.ECDSAP256:
		k, err = ctx.GenerateECDSAKeyPairWithLabel(id, []byte(keyLabel), elliptic.P256())
	case signer.ECDSAP384:
		k, err = ctx.GenerateECDSAKeyPairWithLabel(id, []byte(keyLabel), elliptic.P384())
	case signer.ECDSAP521:
		k, err = ctx.GenerateECDSAKeyPairWithLabel(id, []byte(keyLabel), elliptic.P521())
	case signer.RSA2048:
		k, err = ctx.GenerateRSAKeyPairWithLabel(id, []byte(keyLabel), 2048)
	case signer.RSA3072:
		k, err = ctx.GenerateRSAKeyPairWithLabel(id, []byte(keyLabel), 3072)
	case signer.RSA4096:
		k, err = ctx.GenerateRSAKeyPairWithLabel(id, []byte(keyLabel), 4096)
	default:
		return nil, fmt.Errorf("generate key %q: unknown key type %q", keyLabel, kt)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key %q on token %q: %w", kt, keyLabel,
			c.token, err)
	}
	return c.wrap(k, keyLabel)
}

// Close logs out and releases the token. Signers from this Context stop working.
// Closing twice is harmless.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.ctx.Close()
}

// validate checks that every field is set, naming the first one that is not.
func (c Config) validate() error {
	switch {
	case c.Module == "":
		return errors.New("PKCS#11 config: Module (path of the PKCS#11 library) is empty")
	case c.TokenLabel == "":
		return errors.New("PKCS#11 config: TokenLabel is empty")
	case c.PIN == "":
		return errors.New("PKCS#11 config: PIN is empty")
	}
	return nil
}

func (c *Context) live() (*crypto11.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	return c.ctx, nil
}

func (c *Context) find(ctx *crypto11.Context,
	keyLabel string) ([]crypto11.Signer, error) {
	if keyLabel == "" {
		return nil, errors.New("PKCS#11 key label is empty")
	}
	keys, err := ctx.FindKeyPairs(nil, []byte(keyLabel))
	if err != nil {
		return nil, fmt.Errorf("find key %q on token %q: %w", keyLabel, c.token, err)
	}
	return keys, nil
}

func (c *Context) wrap(k crypto11.Signer, keyLabel string) (crypto.Signer, error) {
	if err := signer.CheckPublicKey(k.Public()); err != nil {
		return nil, fmt.Errorf("key %q on token %q: %w", keyLabel, c.token, err)
	}
	return &tokenKey{s: k, label: keyLabel, token: c.token}, nil
}

// tokenKey hides crypto11's signer, whose Delete method would let a caller
// remove the CA key from the token.
type tokenKey struct {
	s     crypto.Signer
	label string
	token string
}

// Public returns the public key.
func (k *tokenKey) Public() crypto.PublicKey { return k.s.Public() }

// Sign signs digest on the token; see crypto.Signer. rand is not used.
func (k *tokenKey) Sign(rand io.Reader, digest []byte,
	opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.s.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("sign with key %q on token %q: %w", k.label, k.token, err)
	}
	return sig, nil
}

// String describes the key, e.g. `ECDSA P-256 key "issuing" on PKCS#11 token "ca"`.
func (k *tokenKey) String() string {
	return fmt.Sprintf("%s key %q on PKCS#11 token %q", signer.Describe(k.s.Public()),
		k.label, k.token)
}
