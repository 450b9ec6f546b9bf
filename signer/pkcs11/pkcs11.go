// Package pkcs11 signs with CA keys held in a PKCS#11 token: a hardware security
// module, a smart card, or SoftHSM in tests.
//
// A Context is one logged-in connection to one token, found by its label through
// the vendor's PKCS#11 module (a shared library). Keys are found by their label
// (CKA_LABEL). Generate makes keys on the token as sensitive and not extractable,
// so the private key never exists outside it; Signer finds an existing key. Both
// return a crypto.Signer that offers Public and Sign only: callers cannot reach
// the token object to export or delete it. Signers are safe for concurrent use
// (each signature borrows a session from the Context's pool) and stop working
// when their Context is closed.
//
// ECDSA keys sign with CKM_ECDSA over the caller's digest and RSA keys with
// CKM_RSA_PKCS (PKCS #1 v1.5) or CKM_RSA_PKCS_PSS, as the crypto.SignerOpts ask;
// the hash is computed in Go, so CRLs of any size cost one token call.
//
// PKCS#11 is reached through cgo. In a build without cgo (CGO_ENABLED=0) the
// package keeps its API, and Open returns ErrNoCgo.
package pkcs11

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// Config says how to reach a token.
type Config struct {
	// Module is the path of the vendor's PKCS#11 library, for example
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token (CKA_LABEL of the token, as softhsm2-util
	// --init-token --label sets it).
	TokenLabel string
	// PIN is the user PIN. It is never printed: Config formats without it.
	PIN string
}

// Errors callers may branch on.
var (
	// ErrNoCgo is returned by every call in a build without cgo.
	ErrNoCgo = errors.New("PKCS#11 needs a cgo build of anchor: rebuild it with " +
		"CGO_ENABLED=1 and a C compiler installed")

	// ErrKeyNotFound means no key pair on the token carries the label.
	ErrKeyNotFound = errors.New("no key pair with this label on the token")

	// ErrKeyExists means Generate found a key pair with the label already; it
	// wraps fs.ErrExist, as an existing key file does in package signer/file.
	ErrKeyExists = fmt.Errorf("a key pair with this label is already on the token: %w",
		fs.ErrExist)

	// ErrClosed means the Context was closed.
	ErrClosed = errors.New("PKCS#11 context is closed")
)

// String describes the configuration without the PIN.
func (c Config) String() string {
	return fmt.Sprintf("PKCS#11 token %q via %s", c.TokenLabel, c.Module)
}

// Format prints String for every verb, so that not even %#v prints the PIN.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }
