//go:build !cgo

package pkcs11

import (
	"errors"
	"strings"
	"testing"

	"github.com/anchorpki/anchor/signer"
)

func TestNoCgo(t *testing.T) {
	c, err := Open(Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "ca",
		PIN: "1234"})
	if !errors.Is(err, ErrNoCgo) || c != nil {
		t.Fatalf("Open: %v, %v; want nil, ErrNoCgo", c, err)
	}
	if !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Errorf("error %q does not say how to get a cgo build", err)
	}
	if _, err := c.Signer("ca"); !errors.Is(err, ErrNoCgo) {
		t.Errorf("Signer: err = %v, want ErrNoCgo", err)
	}
	if _, err := c.Generate("ca", signer.ECDSAP256); !errors.Is(err, ErrNoCgo) {
		t.Errorf("Generate: err = %v, want ErrNoCgo", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
