package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// receiver is an HTTP server on loopback that records what it is sent.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) only(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(r.reqs))
	}
	return r.reqs[0], r.bodies[0]
}

var sentAt = time.Date(2025, 3, 10, 12, 0, 30, 0, time.UTC)

func testEvent(t *testing.T) notify.Event {
	t.Helper()
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	e, err := notify.NewIssued(cert, eventAt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestWebhookDelivers(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent, "")
	e := testEvent(t)
	w := &notify.Webhook{URL: r.URL + "/hook", Secret: "whsec_test",
		Now: func() time.Time { return sentAt }}
	if err := w.Notify(context.Background(), e); err != nil {
		t.Fatalf("Notify: %v", err)
	}

	req, body := r.only(t)
	if req.Method != http.MethodPost || req.URL.Path != "/hook" {
		t.Errorf("request %s %s, want POST /hook", req.Method, req.URL.Path)
	}
	for h, want := range map[string]string{
		"Content-Type":     "application/json",
		"Anchor-Event-Id":  e.ID,
		"Anchor-Event":     "Certificate Issued",
		"Anchor-Timestamp": "1741608030",
		"Anchor-Signature": notify.Sign("whsec_test", sentAt, body),
	} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	want, _ := json.Marshal(e)
	if string(body) != string(want) {
		t.Errorf("body =\n%s\nwant\n%s", body, want)
	}

	sig := req.Header.Get("Anchor-Signature")
	if err := notify.VerifySignature("whsec_test", sig, body, sentAt.Add(time.Minute),
		0); err != nil {
		t.Errorf("VerifySignature of what was sent: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), "x.example.com", "y.example.com", 1))
	if err := notify.VerifySignature("whsec_test", sig, tampered, sentAt,
		0); !errors.Is(err, notify.ErrSignatureMismatch) {
		t.Errorf("VerifySignature of a tampered body: %v, want ErrSignatureMismatch", err)
	}
}

func TestWebhookWithoutSecret(t *testing.T) {
	r := newReceiver(t, http.StatusOK, "")
	if err := (&notify.Webhook{URL: r.URL}).Notify(context.Background(),
		testEvent(t)); err != nil {
		t.Fatal(err)
	}
	req, _ := r.only(t)
	if v, ok := req.Header["Anchor-Signature"]; ok {
		t.Errorf("Anchor-Signature %q sent without a secret", v)
	}
	if req.Header.Get("Anchor-Event-Id") == "" || req.Header.Get("Anchor-Timestamp") == "" {
		t.Errorf("event id or timestamp header missing: %v", req.Header)
	}
}

func TestWebhookFailures(t *testing.T) {
	const token = "T0KEN-in-the-url"
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name string
		url  func(*testing.T) string
		want string
	}{{
		name: "server error",
		url: func(t *testing.T) string {
			return newReceiver(t, http.StatusInternalServerError, "boom\x1b[31m").URL
		},
		want: "webhook: receiver answered 500 Internal Server Error: boom [31m",
	}, {
		name: "redirect is not followed",
		url: func(t *testing.T) string {
			return newReceiver(t, http.StatusFound, "").URL
		},
		want: "webhook: receiver answered 302 Found",
	}, {
		name: "connection refused",
		url:  func(*testing.T) string { return closedURL },
		want: "webhook: POST failed: ",
	}, {
		name: "bad URL",
		url:  func(*testing.T) string { return "http://[::1" },
		want: "webhook: invalid URL",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url(t) + "/hooks/" + token + "?key=" + token
			err := (&notify.Webhook{URL: u, Secret: "s"}).Notify(context.Background(),
				testEvent(t))
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q reveals the URL", err)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	// Computed independently with:
	//   printf '%s' '1700000000.{"Id":"ev-1"}' | openssl dgst -sha256 -hmac whsec_test
	const want = "t=1700000000,v1=" +
		"3c6dc97cd2d129cedbb836a93f16291ef668755e3efc57c8ce832b32e64f4c6a"
	got := notify.Sign("whsec_test", time.Unix(1700000000, 0), []byte(`{"Id":"ev-1"}`))
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"Id":"ev-1"}`)
	signedAt := time.Unix(1700000000, 0)
	good := notify.Sign("whsec_test", signedAt, body)
	other := notify.Sign("old-secret", signedAt, body)
	v1 := good[strings.Index(good, "v1="):]

	tests := []struct {
		name      string
		secret    string
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", "whsec_test", good, body, signedAt, 0, nil},
		{"spaces after commas", "whsec_test", "t=1700000000, " + v1, body, signedAt, 0, nil},
		{"one of several v1", "whsec_test", other + "," + v1, body, signedAt, 0, nil},
		{"at the default tolerance", "whsec_test", good, body,
			signedAt.Add(5 * time.Minute), 0, nil},
		{"past the default tolerance", "whsec_test", good, body,
			signedAt.Add(5*time.Minute + time.Second), 0, notify.ErrSignatureAge},
		{"from the future", "whsec_test", good, body,
			signedAt.Add(-6 * time.Minute), 0, notify.ErrSignatureAge},
		{"custom tolerance", "whsec_test", good, body,
			signedAt.Add(time.Hour), 2 * time.Hour, nil},
		{"tampered body", "whsec_test", good, []byte(`{"Id":"ev-2"}`), signedAt, 0,
			notify.ErrSignatureMismatch},
		{"wrong secret", "other", good, body, signedAt, 0, notify.ErrSignatureMismatch},
		{"timestamp changed", "whsec_test", "t=1700000001," + v1, body,
			signedAt, 0, notify.ErrSignatureMismatch},
		{"empty header", "whsec_test", "", body, signedAt, 0, notify.ErrNoSignature},
		{"no timestamp", "whsec_test", v1, body, signedAt, 0, notify.ErrNoSignature},
		{"no v1", "whsec_test", "t=1700000000", body, signedAt, 0, notify.ErrNoSignature},
		{"v1 not hex", "whsec_test", "t=1700000000,v1=zz", body, signedAt, 0,
			notify.ErrNoSignature},
		{"garbage", "whsec_test", "t=,,=,v1", body, signedAt, 0, notify.ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notify.VerifySignature(tt.secret, tt.header, tt.body, tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) {
				t.Errorf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}
