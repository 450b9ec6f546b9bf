package publish

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// NewObject returns the object to publish under name, with its content type
// and, for a CRL, its nextUpdate filled in from data. It refuses what Prepare
// refuses.
func NewObject(name string, data []byte) (Object, error) {
	return Prepare(Object{Name: name, Data: data})
}

// Prepare checks o before publication and returns it completed: ContentType
// from the name, Expires from the CRL's nextUpdate, ETag from the data.
// Every Publisher calls it on all objects before writing any.
//
// It refuses an invalid name (ValidName), a content type other than
// ContentTypeFor(o.Name), data that is not what the name says (a DER CRL for
// .crl, one PEM X509 CRL block for .crl.pem, a DER certificate for .crt,
// PEM CERTIFICATE blocks for other .pem names), an Expires that differs from
// the CRL's nextUpdate, and an Expires on a certificate.
func Prepare(o Object) (Object, error) {
	if err := ValidName(o.Name); err != nil {
		return Object{}, err
	}
	k := kindOf(o.Name)

	want := ContentTypeFor(o.Name)
	if o.ContentType == "" {
		o.ContentType = want
	} else if o.ContentType != want {
		return Object{}, fmt.Errorf("publish: object %q: content type %q, want %q",
			o.Name, o.ContentType, want)
	}

	nextUpdate, err := checkData(k, o.Data)
	if err != nil {
		return Object{}, fmt.Errorf("publish: object %q: data: %w", o.Name, err)
	}

	switch {
	case !k.isCRL() && !o.Expires.IsZero():
		return Object{}, fmt.Errorf("publish: object %q: expires: must be zero "+
			"for a certificate", o.Name)
	case !o.Expires.IsZero() && !o.Expires.Equal(nextUpdate):
		return Object{}, fmt.Errorf("publish: object %q: expires %s differs "+
			"from the CRL's nextUpdate %s", o.Name,
			o.Expires.UTC().Format(time.RFC3339), nextUpdate.Format(time.RFC3339))
	}

	o.Expires = nextUpdate
	o.ETag = ETag(o.Data)
	return o, nil
}

// StoredObject builds the Object that a Publisher's Get returns for data
// read back from storage. Expires is the CRL's nextUpdate when the data can
// be read as the CRL its name promises, and zero otherwise; a damaged CRL
// therefore gets "no-cache" from CacheControl instead of an error.
func StoredObject(name, contentType string, data []byte, modTime time.Time) *Object {
	o := &Object{
		Name:        name,
		ContentType: contentType,
		Data:        data,
		ETag:        ETag(data),
		ModTime:     modTime,
	}
	if k := kindOf(name); k.isCRL() {
		o.Expires, _ = checkData(k, data)
	}
	return o
}

// checkData checks that data is what kind k says and returns the CRL's
// nextUpdate (zero for certificates).
func checkData(k kind, data []byte) (time.Time, error) {
	if len(data) == 0 {
		return time.Time{}, errors.New("empty")
	}

	switch k {
	case kindCRL:
		return crlNextUpdate(data)
	case kindCRLPEM:
		blocks, err := pemBlocks(data, "X509 CRL")
		if err != nil {
			return time.Time{}, err
		}
		if len(blocks) != 1 {
			return time.Time{}, fmt.Errorf("%d X509 CRL blocks, want 1", len(blocks))
		}
		return crlNextUpdate(blocks[0])
	case kindCert:
		if _, err := x509.ParseCertificate(data); err != nil {
			return time.Time{}, fmt.Errorf("not a DER certificate: %w", err)
		}
		return time.Time{}, nil
	case kindCertPEM:
		blocks, err := pemBlocks(data, "CERTIFICATE")
		if err != nil {
			return time.Time{}, err
		}
		for i, der := range blocks {
			if _, err := x509.ParseCertificate(der); err != nil {
				return time.Time{}, fmt.Errorf("PEM block %d: %w", i+1, err)
			}
		}
		return time.Time{}, nil
	}
	return time.Time{}, errors.New("unknown object kind")
}

// pemBlocks decodes every PEM block in data and requires all to be of type
// typ, with at least one. Text outside blocks is allowed (RFC 7468,
// section 5.2), but not a BEGIN line that fails to decode.
func pemBlocks(data []byte, typ string) ([][]byte, error) {
	var ders [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != typ {
			return nil, fmt.Errorf("PEM block %d is %q, want %q", len(ders)+1, b.Type, typ)
		}
		ders = append(ders, b.Bytes)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("malformed PEM block after block %d", len(ders))
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("no %q PEM block", typ)
	}
	return ders, nil
}

// crlNextUpdate reads the nextUpdate of a DER CertificateList (RFC 5280,
// section 5.1) without decoding its revoked certificates, so that its cost
// does not grow with the CRL. It checks the outer structure, not the
// signature.
func crlNextUpdate(der []byte) (time.Time, error) {
	notCRL := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("not a DER CRL: %s", what)
	}

	// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
	// signatureValue }
	list, rest, err := element(der)
	if err != nil || !isSequence(list) {
		return notCRL("no CertificateList SEQUENCE")
	}
	if len(rest) != 0 {
		return notCRL("trailing data after CertificateList")
	}
	tbs, rest, err := element(list.Bytes)
	if err != nil || !isSequence(tbs) {
		return notCRL("no tbsCertList SEQUENCE")
	}
	alg, rest, err := element(rest)
	if err != nil || !isSequence(alg) {
		return notCRL("no signatureAlgorithm SEQUENCE")
	}
	sig, rest, err := element(rest)
	if err != nil || !isUniversal(sig, asn1.TagBitString) || len(rest) != 0 {
		return notCRL("no signatureValue BIT STRING at the end")
	}

	// TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature,
	// issuer, thisUpdate, nextUpdate Time OPTIONAL, ... }
	f, rest, err := element(tbs.Bytes)
	if err == nil && isUniversal(f, asn1.TagInteger) {
		f, rest, err = element(rest)
	}
	if err != nil || !isSequence(f) {
		return notCRL("no signature AlgorithmIdentifier in tbsCertList")
	}
	f, rest, err = element(rest)
	if err != nil || !isSequence(f) {
		return notCRL("no issuer Name in tbsCertList")
	}
	f, rest, err = element(rest)
	if err != nil || !isTime(f) {
		return notCRL("no thisUpdate in tbsCertList")
	}
	if len(rest) == 0 {
		return time.Time{}, nil
	}
	f, _, err = element(rest)
	if err != nil {
		return notCRL("malformed element after thisUpdate")
	}
	if !isTime(f) {
		return time.Time{}, nil // no nextUpdate; revokedCertificates follow
	}
	var next time.Time
	if _, err := asn1.Unmarshal(f.FullBytes, &next); err != nil {
		return notCRL("malformed nextUpdate")
	}
	return next.UTC(), nil
}

// element reads one DER element from b without decoding its contents.
func element(b []byte) (asn1.RawValue, []byte, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	return v, rest, err
}

func isUniversal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}

func isSequence(v asn1.RawValue) bool {
	return isUniversal(v, asn1.TagSequence) && v.IsCompound
}

func isTime(v asn1.RawValue) bool {
	return isUniversal(v, asn1.TagUTCTime) || isUniversal(v, asn1.TagGeneralizedTime)
}
