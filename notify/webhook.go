package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Headers a Webhook sets on every request.
const (
	HeaderEventID   = "Anchor-Event-Id"  // Event.ID: the de-duplication key
	HeaderEvent     = "Anchor-Event"     // Event.Subject
	HeaderTimestamp = "Anchor-Timestamp" // Unix seconds of this attempt
	HeaderSignature = "Anchor-Signature" // see Sign; absent without a secret
)

// DefaultTolerance is the signature age VerifySignature accepts when given a
// tolerance of zero.
const DefaultTolerance = 5 * time.Minute

// Errors VerifySignature returns; receivers branch on them with errors.Is.
var (
	ErrNoSignature       = errors.New("notify: no signature")
	ErrSignatureMismatch = errors.New("notify: signature does not match the body")
	ErrSignatureAge      = errors.New("notify: signature timestamp outside the tolerance")
)

// Webhook posts events as JSON (see Event for the body) to URL.
//
// Each request carries the headers HeaderEventID, HeaderEvent and
// HeaderTimestamp, and, when Secret is set, HeaderSignature computed by Sign
// over the exact body. A receiver answers any 2xx status to accept the event;
// anything else, including a redirect, is a failed attempt.
type Webhook struct {
	URL    string
	Secret string
	// Client sends the requests; nil means a client with a 30 s timeout that
	// does not follow redirects.
	Client *http.Client
	// Now gives the signing time; nil means time.Now.
	Now func() time.Time
}

// Notify posts e once.
func (w *Webhook) Notify(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("webhook: encoding event %s: %w", e.ID, err)
	}

	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	h := http.Header{}
	h.Set(HeaderEventID, e.ID)
	h.Set(HeaderEvent, e.Subject)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if w.Secret != "" {
		h.Set(HeaderSignature, Sign(w.Secret, now, body))
	}
	return post(ctx, w.Client, "webhook", w.URL, body, h)
}

// Sign returns the HeaderSignature value for body sent at t:
//
//	t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<unix seconds>.<body>")>
//
// The timestamp is inside the MAC so that a captured request cannot be replayed
// later with a fresh timestamp. A receiver recomputes the MAC over the raw body
// it read, compares it in constant time and checks the timestamp is recent;
// VerifySignature does all three. A receiver may accept several v1 values (a
// sender rotating secrets may send one per secret).
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a HeaderSignature value against the raw body the
// receiver read. It fails with ErrNoSignature when the header is empty or
// malformed, ErrSignatureMismatch when no v1 value matches, and
// ErrSignatureAge when the timestamp is more than tolerance away from now
// (DefaultTolerance if tolerance is zero or negative).
func VerifySignature(secret, header string, body []byte, now time.Time,
	tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}

	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or invalid t= in %s", ErrNoSignature, HeaderSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: missing or invalid v1= in %s", ErrNoSignature, HeaderSignature)
	}

	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}

	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %d, %s away from now", ErrSignatureAge, unix,
			age.Round(time.Second))
	}
	return nil
}

var defaultClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// post sends one JSON request and turns anything but a 2xx answer into an
// error. The URL never appears in the error: Slack and others put their
// credential in it, and errors end up in logs and in the outbox.
func post(ctx context.Context, client *http.Client, kind, rawURL string, body []byte,
	h http.Header) error {
	if client == nil {
		client = defaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL,
		bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: invalid URL", kind)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Anchor-Notify/1")

	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: POST failed: %w", kind, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if s := printable(snippet, 100); s != "" {
			return fmt.Errorf("%s: receiver answered %s: %s", kind, resp.Status, s)
		}
		return fmt.Errorf("%s: receiver answered %s", kind, resp.Status)
	}
	return nil
}

// printable keeps at most n printable runes of a response body, so that what
// a receiver says (Slack answers "invalid_payload") helps the operator without
// letting the receiver write control characters into logs.
func printable(b []byte, n int) string {
	var sb strings.Builder
	for _, r := range strings.TrimSpace(string(b)) {
		if n == 0 {
			sb.WriteString("...")
			break
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		sb.WriteRune(r)
		n--
	}
	return sb.String()
}
