package anywhere

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature algorithms that appear in the Authorization header.
const (
	algHMAC  = "AWS4-HMAC-SHA256"
	algECDSA = "AWS4-X509-ECDSA-SHA256"
	algRSA   = "AWS4-X509-RSA-SHA256"

	amzDateFormat = "20060102T150405Z"
	maxClockSkew  = 5 * time.Minute
)

// authHeader is a parsed SigV4 Authorization header, HMAC or X.509.
type authHeader struct {
	Algorithm     string
	Credential    string // access key id, or certificate serial in decimal
	Date          string // yyyyMMdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     []byte
}

// Scope returns the credential scope as it appears in the string to sign.
func (a authHeader) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// parseAuthorization parses
// "<alg> Credential=<id>/<date>/<region>/<service>/aws4_request,
// SignedHeaders=<a;b>, Signature=<hex>".
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return a, errors.New("bad Authorization header: missing credential fields")
	}
	a.Algorithm = alg
	var cred, signed, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("bad Authorization header: malformed field %q", part)
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		default:
			return a, fmt.Errorf("bad Authorization header: unknown field %q", k)
		}
	}
	if cred == "" || signed == "" || sig == "" {
		return a, errors.New(
			"bad Authorization header: Credential, SignedHeaders and Signature are required")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return a, fmt.Errorf("bad Authorization header: malformed Credential %q", cred)
	}
	a.Credential, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	a.SignedHeaders = strings.Split(signed, ";")
	for i, name := range a.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return a, fmt.Errorf("bad Authorization header: bad SignedHeaders entry %q", name)
		}
		if i > 0 && a.SignedHeaders[i-1] >= name {
			return a, errors.New("bad Authorization header: SignedHeaders must be sorted and unique")
		}
	}
	raw, err := hex.DecodeString(sig)
	if err != nil || len(raw) == 0 || sig != strings.ToLower(sig) {
		return a, errors.New("bad Authorization header: Signature must be lower-case hex")
	}
	a.Signature = raw
	return a, nil
}

// checkDate validates X-Amz-Date against the credential scope and the clock.
func checkDate(amzDate string, a authHeader, now time.Time) (time.Time, error) {
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return t, errors.New("bad X-Amz-Date header: want yyyyMMddTHHmmssZ")
	}
	if a.Date != amzDate[:8] {
		return t, fmt.Errorf("bad credential scope: scope date %s does not match X-Amz-Date %s",
			a.Date, amzDate)
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return t, fmt.Errorf("bad X-Amz-Date header: %s is more than 5 minutes "+
			"from the server time %s", amzDate, now.UTC().Format(amzDateFormat))
	}
	return t, nil
}

// canonicalHeaders renders the signed headers as "name:value\n" lines, values
// trimmed with runs of spaces collapsed. Host comes from the request's Host.
func canonicalHeaders(r *http.Request, signed []string) (string, error) {
	var b strings.Builder
	for _, name := range signed {
		var v string
		switch name {
		case "host":
			v = r.Host
		case "content-length":
			v = r.Header.Get("Content-Length")
			if v == "" && r.ContentLength >= 0 {
				v = strconv.FormatInt(r.ContentLength, 10)
			}
		default:
			vals := r.Header.Values(name)
			if len(vals) == 0 {
				return "", fmt.Errorf("SignedHeaders: header %q is signed but absent", name)
			}
			v = strings.Join(vals, ",")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(collapseSpaces(v))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	prev := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prev {
				continue
			}
			prev = true
		} else {
			prev = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalQuery sorts the query by key then value and encodes both per
// RFC 3986 (spaces as %20).
func canonicalQuery(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("query string: %v", err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := vals[k]
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(uriEncode(k, true))
			b.WriteByte('=')
			b.WriteString(uriEncode(v, true))
		}
	}
	return b.String(), nil
}

// uriEncode percent-encodes everything but RFC 3986 unreserved characters;
// '/' is kept when encodeSlash is false.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalRequest assembles the SigV4 canonical request.
func canonicalRequest(method, canonURI, query, headers string, signed []string,
	payloadHash string) string {
	return method + "\n" + canonURI + "\n" + query + "\n" + headers + "\n" +
		strings.Join(signed, ";") + "\n" + payloadHash
}

// stringToSign assembles the SigV4 string to sign.
func stringToSign(alg, amzDate, scope, canonReq string) string {
	h := sha256.Sum256([]byte(canonReq))
	return alg + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

// requireSigned checks that every name in must is among the signed headers.
func requireSigned(signed []string, must ...string) error {
	for _, m := range must {
		i := sort.SearchStrings(signed, m)
		if i == len(signed) || signed[i] != m {
			return fmt.Errorf("SignedHeaders: %q must be signed", m)
		}
	}
	return nil
}

// rawPath returns the path exactly as the client sent it, which is what the
// client signed even when this handler is mounted under http.StripPrefix.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p == "*" {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if u, err := url.Parse(p); err == nil && u.IsAbs() {
		return u.EscapedPath()
	}
	return p
}

// hmacSigningKey derives the SigV4 signing key.
func hmacSigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// verifyHMAC checks an ordinary SigV4 (HMAC) signature over r, whose body has
// already been read into body. secret is the access key's secret.
func verifyHMAC(r *http.Request, a authHeader, body []byte, secret string) error {
	if err := requireSigned(a.SignedHeaders, "host"); err != nil {
		return err
	}
	if r.Header.Get("X-Amz-Date") != "" {
		if err := requireSigned(a.SignedHeaders, "x-amz-date"); err != nil {
			return err
		}
	}
	headers, err := canonicalHeaders(r, a.SignedHeaders)
	if err != nil {
		return err
	}
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" &&
		h != "UNSIGNED-PAYLOAD" && h != payload {
		return errors.New("X-Amz-Content-Sha256: does not match the body")
	}
	if r.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
		payload = "UNSIGNED-PAYLOAD"
	}
	canonURI := uriEncode(rawPath(r), false)
	creq := canonicalRequest(r.Method, canonURI, query, headers, a.SignedHeaders, payload)
	sts := stringToSign(algHMAC, r.Header.Get("X-Amz-Date"), a.Scope(), creq)
	want := hmacSHA256(hmacSigningKey(secret, a.Date, a.Region, a.Service), sts)
	if !hmac.Equal(want, a.Signature) {
		return errSignatureMismatch
	}
	return nil
}

var errSignatureMismatch = errors.New(
	"the request signature does not match the signature computed by the server")
