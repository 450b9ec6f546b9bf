// Package publish is the seam between Anchor and the place relying parties
// fetch CRLs and CA certificates from: a local folder served over HTTP
// (package publish/dir) or an S3 bucket (package publish/s3).
//
// # Model
//
// A publisher holds a flat set of objects. An object's name is also its URL
// path under the public base URL, so the CRL Distribution Point and Authority
// Information Access URLs in issued certificates resolve to it. Anchor
// publishes five kinds of object, recognised by the suffix of the name, with
// the names and formats of the serverless CA (spec: serverless-ca-compat.md):
//
//	{slug}.crl                     DER CRL            application/pkix-crl
//	{slug}.crl.pem                 PEM CRL            application/x-pem-file
//	{slug}.crt                     DER certificate    application/pkix-cert
//	{slug}.pem                     PEM certificate    application/x-pem-file
//	{project}-ca-bundle-{env}.pem  PEM certificates   application/x-pem-file
//
// A name is one path segment: letters, digits, '.', '-' and '_', starting
// with a letter or digit, without "..", and ending in one of the suffixes
// above (see ValidName). Names are case-sensitive.
//
// # Promises
//
// Publish checks every object before it writes any: the name is valid, the
// content type is the one the name implies, and the data is what the name
// says it is (a DER or PEM CRL, a DER certificate, PEM certificates). An
// object that fails a check is refused with an error naming the object and
// the field, and nothing of the call is published.
//
// Each object is replaced atomically: a reader sees the old bytes or the new
// bytes, never a mixture or a partial file. A call that publishes several
// objects is not atomic as a whole; they are written in order, and an error
// stops the call, leaving the objects before it published.
//
// For a CRL, Object.Expires is its nextUpdate. Publish reads it from the
// data, so it cannot disagree with what relying parties see, and Get reports
// it in the same way for every backend.
//
// # Caching
//
// CacheControl gives the Cache-Control header for an object. A CRL may be
// cached for CRLMaxAge at most, and never past its nextUpdate: a CRL is
// reissued within a second of a revocation, and a shared cache that held the
// previous one for hours would keep a revoked certificate usable. CA
// certificates and the bundle change only when a CA is rotated, so they are
// cached for CertMaxAge.
package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Content types of published objects.
const (
	TypeCRL  = "application/pkix-crl"   // RFC 5280, section 4.2.1.13
	TypeCert = "application/pkix-cert"  // RFC 2585, section 4.1
	TypePEM  = "application/x-pem-file" // PEM CRLs, certificates and bundles
)

// Cache lifetimes used by CacheControl.
const (
	// CRLMaxAge bounds how long a shared cache may serve a CRL, so that a CRL
	// issued after a revocation reaches relying parties within a minute.
	CRLMaxAge = time.Minute
	// CertMaxAge is how long CA certificates and the CA bundle may be cached.
	CertMaxAge = time.Hour
)

// MaxNameLen is the longest object name accepted, in bytes. It leaves room
// under the usual 255-byte file name limit for the temporary names that
// publish/dir writes before renaming.
const MaxNameLen = 200

var (
	// ErrNotFound is returned by Get when no object has the name.
	ErrNotFound = errors.New("publish: object not found")
	// ErrInvalidName is wrapped by every error about a name that ValidName
	// refuses.
	ErrInvalidName = errors.New("publish: invalid object name")
)

// Object is one published file.
type Object struct {
	// Name is the object's key and URL path, e.g. "anchor-issuing-ca-dev.crl".
	Name string
	// ContentType is the media type served with the object. Publish fills it
	// in from the name when it is empty and refuses any other value than
	// ContentTypeFor(Name).
	ContentType string
	// Data is the content: DER or PEM, as the name says.
	Data []byte
	// Expires is the CRL's nextUpdate, or zero for certificates and for a CRL
	// without nextUpdate. Publish reads it from the data when it is zero and
	// refuses a different value.
	Expires time.Time
	// ETag is the strong entity tag of Data (see ETag). Prepare and Get set
	// it; Publish ignores the value it is given.
	ETag string
	// ModTime is when the stored object was last written. Get sets it;
	// Publish ignores it.
	ModTime time.Time
}

// Publisher stores objects where relying parties can fetch them.
type Publisher interface {
	// Publish checks all objects (see Prepare), then writes them in order,
	// each one atomically.
	Publish(ctx context.Context, objs ...Object) error
	// Get returns the stored object with its ETag and ModTime set, or an
	// error wrapping ErrNotFound.
	Get(ctx context.Context, name string) (*Object, error)
}

// kind is what an object name says its data is.
type kind int

const (
	kindUnknown kind = iota
	kindCRL          // .crl: DER CRL
	kindCRLPEM       // .crl.pem: one PEM "X509 CRL" block
	kindCert         // .crt: DER certificate
	kindCertPEM      // .pem: PEM "CERTIFICATE" blocks
)

// kindOf looks only at the suffix. ".crl.pem" is tested before ".pem".
func kindOf(name string) kind {
	switch {
	case strings.HasSuffix(name, ".crl.pem"):
		return kindCRLPEM
	case strings.HasSuffix(name, ".crl"):
		return kindCRL
	case strings.HasSuffix(name, ".crt"):
		return kindCert
	case strings.HasSuffix(name, ".pem"):
		return kindCertPEM
	}
	return kindUnknown
}

func (k kind) isCRL() bool { return k == kindCRL || k == kindCRLPEM }

// ContentTypeFor returns the content type implied by the suffix of name, or
// the empty string when the suffix is not one Anchor publishes.
func ContentTypeFor(name string) string {
	switch kindOf(name) {
	case kindCRL:
		return TypeCRL
	case kindCert:
		return TypeCert
	case kindCRLPEM, kindCertPEM:
		return TypePEM
	}
	return ""
}

// ValidName reports why name cannot name a published object, or returns nil.
// Errors wrap ErrInvalidName.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w %q...: longer than %d bytes",
			ErrInvalidName, name[:32], MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w %q: must start with a letter or digit",
				ErrInvalidName, name)
		}
		if !alnum && c != '.' && c != '-' && c != '_' {
			return fmt.Errorf("%w %q: byte %q not allowed; use letters, digits, "+
				"'.', '-' and '_'", ErrInvalidName, name, c)
		}
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%w %q: contains \"..\"", ErrInvalidName, name)
	}
	if kindOf(name) == kindUnknown {
		return fmt.Errorf("%w %q: must end in .crl, .crl.pem, .crt or .pem",
			ErrInvalidName, name)
	}
	return nil
}

// ETag returns the strong entity tag of data: the hex SHA-256 digest in
// double quotes (RFC 9110, section 8.8.3). Equal data gives equal tags on
// every backend, unlike S3's own ETag, which is an MD5 digest or depends on
// how the object was uploaded.
func ETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// CacheControl returns the Cache-Control header value for o served at now.
//
// A CRL gets "public, max-age=N" with N the whole seconds left until its
// nextUpdate (o.Expires), capped at CRLMaxAge; with less than a second left,
// past nextUpdate, or without nextUpdate it gets "no-cache", so caches
// revalidate every time. Certificates and bundles get
// "public, max-age=3600" (CertMaxAge). A name that is not valid gets
// "no-cache".
func CacheControl(o Object, now time.Time) string {
	const noCache = "no-cache"

	if ValidName(o.Name) != nil {
		return noCache
	}
	if !kindOf(o.Name).isCRL() {
		return maxAge(CertMaxAge)
	}
	if o.Expires.IsZero() {
		return noCache
	}
	left := o.Expires.Sub(now)
	if left < time.Second {
		return noCache
	}
	return maxAge(min(left, CRLMaxAge))
}

func maxAge(d time.Duration) string {
	return "public, max-age=" + strconv.FormatInt(int64(d/time.Second), 10)
}
