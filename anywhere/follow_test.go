package anywhere

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
)

// crlPublisher is a tiny CA-side CRL endpoint. With longPoll set it
// implements the long-poll: a request whose If-None-Match equals the current
// ETag and that carries "Prefer: wait=N" is held until the CRL changes or N
// seconds pass. Without it, such a request gets 304 at once.
type crlPublisher struct {
	longPoll bool
	mu       sync.Mutex
	der      []byte
	version  int
	changed  chan struct{}
	requests int
}

func newCRLPublisher(longPoll bool, der []byte) *crlPublisher {
	return &crlPublisher{longPoll: longPoll, der: der, version: 1,
		changed: make(chan struct{})}
}

func (p *crlPublisher) publish(der []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.der = der
	p.version++
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *crlPublisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	etag := fmt.Sprintf(`"v%d"`, p.version)
	changed := p.changed
	p.mu.Unlock()

	if r.Header.Get("If-None-Match") == etag {
		wait := 0
		if v, ok := strings.CutPrefix(r.Header.Get("Prefer"), "wait="); ok {
			wait, _ = strconv.Atoi(v)
		}
		if !p.longPoll || wait <= 0 {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(wait))
		select {
		case <-changed:
		case <-time.After(time.Duration(wait) * time.Second):
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
	}
	p.mu.Lock()
	etag, der := fmt.Sprintf(`"v%d"`, p.version), p.der
	p.mu.Unlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(der)
}

func TestFollowRevocation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		longPoll bool
		pem      bool
	}{
		{"long-poll DER", true, false},
		{"plain polling PEM", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			l := e.ca.leaf(t, leafOpts{})
			encode := func(der []byte) []byte {
				if tc.pem {
					return crlPEM(der)
				}
				return der
			}
			pub := newCRLPublisher(tc.longPoll, encode(e.ca.crl(t, 1)))
			ps := httptest.NewServer(pub)
			defer ps.Close()

			ctx, cancel := context.WithCancel(context.Background())
			fl := e.srv.NewFollower(Follow{URL: ps.URL + "/crl/issuing.crl",
				TrustAnchor: e.taArn, Name: "followed", PollInterval: 500 * time.Millisecond,
				Wait: 5 * time.Second})
			done := make(chan struct{})
			go func() {
				fl.Run(ctx)
				close(done)
			}()
			defer func() {
				cancel()
				<-done
			}()

			waitFor(t, "CRL installed", func() bool {
				l, err := e.ra.ListCrls(ctx, &rolesanywhere.ListCrlsInput{})
				return err == nil && len(l.Crls) == 1 && *l.Crls[0].Enabled &&
					*l.Crls[0].Name == "followed"
			})
			if status, _, body := e.createSession(sessionReq{leaf: l}); status != 201 {
				t.Fatalf("before revocation: %d %s", status, body)
			}
			// Let the follower settle into its wait before the change.
			time.Sleep(300 * time.Millisecond)

			start := time.Now()
			pub.publish(encode(e.ca.crl(t, 2, l.cert.SerialNumber)))
			waitFor(t, "denial", func() bool {
				_, _, body := e.createSession(sessionReq{leaf: l})
				return strings.Contains(string(body), "Certificate revoked")
			})
			t.Logf("%s: denied %v after the CRL changed", tc.name, time.Since(start))

			// A CRL not signed by the trust anchor is not installed.
			forger := &testCA{cert: e.ca.cert, key: newKey(t, "p256")}
			pub.publish(encode(forger.crl(t, 3)))
			time.Sleep(time.Second)
			if _, _, body := e.createSession(sessionReq{leaf: l}); !strings.Contains(
				string(body), "Certificate revoked") {
				t.Fatalf("forged CRL replaced the real one: %s", body)
			}
		})
	}
}

// waitFor polls cond for up to 15 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPushRevocation(t *testing.T) {
	// The CA side (this test) pushes to a second, remote relying party.
	remote := newEnv(t, Config{})
	ctx := context.Background()
	l := remote.ca.leaf(t, leafOpts{})
	imp, err := remote.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("pushed"), CrlData: crlPEM(remote.ca.crl(t, 1)),
		TrustAnchorArn: aws.String(remote.taArn), Enabled: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := remote.createSession(sessionReq{leaf: l}); status != 201 {
		t.Fatalf("before push: %d", status)
	}
	p := &Pusher{Endpoint: remote.ts.URL, Region: "us-east-1",
		AccessKeyID: remote.key.AccessKeyID, SecretAccessKey: remote.key.SecretAccessKey,
		CRLID: *imp.Crl.CrlId}
	if err := p.Push(ctx, remote.ca.crl(t, 2, l.cert.SerialNumber)); err != nil {
		t.Fatal(err)
	}
	status, code, body := remote.createSession(sessionReq{leaf: l})
	if status != 403 || code != codeAccessDenied ||
		!strings.Contains(string(body), "Certificate revoked") {
		t.Fatalf("after push: %d %s %s", status, code, body)
	}

	// A push with a wrong key fails with the server's error.
	p.SecretAccessKey += "x"
	if err := p.Push(ctx, remote.ca.crl(t, 3)); err == nil ||
		!strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("push with a wrong key: %v", err)
	}
}

func TestDeclaredFollow(t *testing.T) {
	ca := newRootCA(t, "Declared Follow Root")
	dir := t.TempDir()
	pub := newCRLPublisher(true, ca.crl(t, 1, big.NewInt(42)))
	ps := httptest.NewServer(pub)
	defer ps.Close()
	srv, err := NewServer(Config{DataDir: dir,
		TrustAnchors: []TrustAnchorConfig{{Name: "corp",
			CertificateFile: writeFile(t, dir, "ca.pem", []byte(ca.pem()))}},
		Follow: []Follow{{URL: ps.URL, TrustAnchor: "corp", Name: "auto"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	taID := nameUUID("trust-anchor", "corp")
	waitFor(t, "followed CRL", func() bool {
		st := srv.snap.Load().anchorsByID[taID]
		_, ok := st.revoked[issuerKey(ca.cert.RawSubject, ca.cert.RawSubjectPublicKeyInfo)+
			string(big.NewInt(42).Bytes())]
		return ok
	})
	srv.mu.Lock()
	c := srv.crls[nameUUID("crl", taID+"/auto")]
	srv.mu.Unlock()
	if c.Name != "auto" || !c.Enabled || c.TrustAnchorID != taID {
		t.Fatalf("followed CRL record %+v", c)
	}
}
