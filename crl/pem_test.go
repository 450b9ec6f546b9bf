package crl

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"
)

func TestPEM(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 47, 48, 49, 95, 96, 97, 1000, 100_003} {
		der := make([]byte, n)
		for i := range der {
			der[i] = byte(i*7 + n)
		}
		got := PEM(der)
		want := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
		if !bytes.Equal(got, want) {
			t.Fatalf("PEM of %d bytes:\n%s\nwant:\n%s", n, got, want)
		}
		if cap(got) != len(got) {
			t.Errorf("PEM of %d bytes: capacity %d, length %d; want an exact size",
				n, cap(got), len(got))
		}
		back, err := DecodePEM(got)
		if err != nil || !bytes.Equal(back, der) {
			t.Fatalf("DecodePEM(PEM(%d bytes)) = %d bytes, %v", n, len(back), err)
		}
	}
}

func TestDecodePEM(t *testing.T) {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})
	crl := PEM([]byte{3, 4, 5})
	got, err := DecodePEM(append(append([]byte("junk\n"), cert...), crl...))
	if err != nil || !bytes.Equal(got, []byte{3, 4, 5}) {
		t.Errorf("DecodePEM after a certificate = %x, %v; want 030405", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("not PEM"), cert, {0x30, 0x03, 0x02, 0x01, 0x01}} {
		if _, err := DecodePEM(bad); !errors.Is(err, ErrNoPEM) {
			t.Errorf("DecodePEM(%q) error %v, want ErrNoPEM", bad, err)
		}
	}
}
