package crl

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
)

// pemType is the PEM label of a CRL (RFC 7468 section 6).
const pemType = "X509 CRL"

const (
	pemBegin = "-----BEGIN " + pemType + "-----\n"
	pemEnd   = "-----END " + pemType + "-----\n"
	// pemLine is the number of base64 characters per line (RFC 7468: 64),
	// which encode pemChunk bytes.
	pemLine  = 64
	pemChunk = pemLine / 4 * 3
)

// PEM returns der as a "-----BEGIN X509 CRL-----" block, byte for byte what
// encoding/pem writes. It sizes the output exactly and allocates it once, so
// that a CRL of tens of megabytes costs one buffer of its PEM size.
func PEM(der []byte) []byte {
	enc := base64.StdEncoding.EncodedLen(len(der))
	lines := (enc + pemLine - 1) / pemLine
	out := make([]byte, 0, len(pemBegin)+enc+lines+len(pemEnd))

	out = append(out, pemBegin...)
	for len(der) > 0 {
		n := min(len(der), pemChunk)
		start := len(out)
		out = out[:start+base64.StdEncoding.EncodedLen(n)]
		base64.StdEncoding.Encode(out[start:], der[:n])
		out = append(out, '\n')
		der = der[n:]
	}
	return append(out, pemEnd...)
}

// ErrNoPEM is returned by DecodePEM when its input holds no X509 CRL block.
var ErrNoPEM = errors.New(`crl: no "X509 CRL" PEM block found`)

// DecodePEM returns the DER of the first "X509 CRL" block in data, skipping
// blocks of other types (a bundle may carry certificates as well). It does not
// parse the DER; x509.ParseRevocationList does that.
func DecodePEM(data []byte) ([]byte, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, ErrNoPEM
		}
		if block.Type == pemType {
			return block.Bytes, nil
		}
		data = rest
	}
}
