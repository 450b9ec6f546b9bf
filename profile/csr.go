package profile

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
)

// csrField is the request key that the CSR came from, for messages.
const csrField = "base64_csr_data"

// DecodeCSR reads a CSR as the request's base64_csr_data holds it: base64 of
// a PEM CSR (the serverless CA's form), base64 of a DER CSR, or PEM text as
// it is. It does not check the signature; Evaluate does. Errors are
// *Rejection values that name base64_csr_data.
func DecodeCSR(data string) (*x509.CertificateRequest, error) {
	s := strings.TrimSpace(data)
	if s == "" {
		return nil, reject("%s is missing: a CSR is required", csrField)
	}

	var raw []byte
	if strings.Contains(s, "-----BEGIN") {
		raw = []byte(s)
	} else {
		compact := strings.Join(strings.Fields(s), "")
		var ok bool
		if raw, ok = decodeAnyBase64(compact); !ok {
			return nil, reject("%s is not valid base64", csrField)
		}
	}

	der := raw
	if bytes.Contains(raw, []byte("-----BEGIN")) {
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, reject("%s holds no valid PEM block", csrField)
		}
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, reject("%s holds a PEM %q block, not a CERTIFICATE REQUEST",
				csrField, shorten(block.Type))
		}
		der = block.Bytes
	}

	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, reject("%s is not a valid certificate signing request: %v",
			csrField, err)
	}
	return csr, nil
}

// decodeAnyBase64 accepts standard and URL-safe base64, padded or not.
func decodeAnyBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
