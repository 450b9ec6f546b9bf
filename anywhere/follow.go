package anywhere

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxFollowedCRL caps a CRL fetched by a follower. It is larger than the
// ImportCrl limit because a follower talks to the operator's own CA, not to
// the public API.
const maxFollowedCRL = 16 << 20

// Follower keeps one CRL of a trust anchor equal to the CRL published at a
// URL. It long-polls: each request carries If-None-Match with the last ETag
// and "Prefer: wait=N", so a CA that supports it answers as soon as the CRL
// changes (200) or when the wait ends (304). Against a server that answers
// at once, it polls every PollInterval instead, and never later than the
// CRL's nextUpdate.
type Follower struct {
	s      *Server
	f      Follow
	client *http.Client
	etag   string
	sum    [32]byte
	next   time.Time // nextUpdate of the installed CRL
}

// NewFollower returns a follower for f; Run starts it. NewServer starts one
// for every Config.Follow entry.
func (s *Server) NewFollower(f Follow) *Follower {
	if f.PollInterval <= 0 {
		f.PollInterval = 2 * time.Second
	}
	if f.Wait <= 0 {
		f.Wait = 25 * time.Second
	}
	c := s.cfg.HTTPClient
	if c == nil {
		c = &http.Client{}
	}
	return &Follower{s: s, f: f, client: c}
}

// pollResult says what one request found.
type pollResult struct {
	installed bool // a new CRL was installed
	held      bool // the server held the request (long-poll support)
}

// Run polls until ctx is done. Errors are logged and retried with backoff
// (1s doubling to 30s); they never stop the follower.
func (fl *Follower) Run(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		res, err := fl.Poll(ctx)
		var pause time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			fl.s.log.Warn("anywhere: CRL follow failed", "url", fl.f.URL, "crl", fl.f.Name,
				"err", err, "retry_in", backoff)
			pause = backoff
			backoff = min(2*backoff, 30*time.Second)
		case res.installed || res.held:
			backoff = time.Second
			continue // ask again at once: the server holds the next request
		default:
			backoff = time.Second
			pause = fl.f.PollInterval
			if !fl.next.IsZero() {
				if until := time.Until(fl.next); until < pause {
					pause = max(until, time.Second)
				}
			}
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Poll makes one conditional request and installs the CRL if it changed.
func (fl *Follower) Poll(ctx context.Context) (pollResult, error) {
	var res pollResult
	ctx, cancel := context.WithTimeout(ctx, fl.f.Wait+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fl.f.URL, nil)
	if err != nil {
		return res, fmt.Errorf("follow url: %w", err)
	}
	if fl.etag != "" {
		req.Header.Set("If-None-Match", fl.etag)
	}
	req.Header.Set("Prefer", "wait="+strconv.Itoa(int(fl.f.Wait/time.Second)))
	start := time.Now()
	resp, err := fl.client.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	// A server that applied the preference says so; one that kept a 304 for
	// over a second evidently held it too.
	res.held = strings.HasPrefix(resp.Header.Get("Preference-Applied"), "wait") ||
		(resp.StatusCode == http.StatusNotModified && time.Since(start) > time.Second)

	switch resp.StatusCode {
	case http.StatusNotModified:
		return res, nil
	case http.StatusOK:
	default:
		return res, fmt.Errorf("GET %s: status %s", fl.f.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFollowedCRL+1))
	if err != nil {
		return res, fmt.Errorf("GET %s: %w", fl.f.URL, err)
	}
	if len(body) > maxFollowedCRL {
		return res, fmt.Errorf("GET %s: CRL larger than %d bytes", fl.f.URL, maxFollowedCRL)
	}
	sum := sha256.Sum256(body)
	if sum == fl.sum {
		fl.etag = resp.Header.Get("ETag")
		return res, nil
	}
	next, err := fl.s.installFollowed(ctx, fl.f, body)
	if err != nil {
		return res, err
	}
	fl.etag, fl.sum, fl.next = resp.Header.Get("ETag"), sum, next
	res.installed = true
	fl.s.log.Info("anywhere: CRL installed", "url", fl.f.URL, "crl", fl.f.Name,
		"trust_anchor", fl.f.TrustAnchor, "next_update", next)
	return res, nil
}

var errStaleCRL = errors.New("fetched CRL is older than the installed one")

// installFollowed verifies a fetched CRL against the trust anchor and
// installs it, enabled, as the CRL named f.Name (created if absent). A CRL
// whose thisUpdate is older than the installed one's is refused, so a stale
// cache cannot roll revocations back.
func (s *Server) installFollowed(ctx context.Context, f Follow, data []byte) (time.Time,
	error) {
	list, err := parseCRL(data)
	if err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	ta, ok := s.resolveAnchorLocked(f.TrustAnchor)
	var cur *CRL
	if ok {
		for _, c := range s.crls {
			if c.TrustAnchorID == ta.ID && c.Name == f.Name {
				c := c
				cur = &c
				break
			}
		}
	}
	var curList *parsedCRL
	if cur != nil {
		curList = s.parsedLocked(*cur)
	}
	s.mu.Unlock()
	if !ok {
		return time.Time{}, fmt.Errorf("trust_anchor: %q not found", f.TrustAnchor)
	}
	st := s.snap.Load().anchorsByID[ta.ID]
	if st == nil || crlSigner(list, st.certs) == nil {
		return time.Time{}, fmt.Errorf("CRL from %s is not signed by trust anchor %s",
			f.URL, ta.Name)
	}
	if curList != nil && list.ThisUpdate.Before(curList.list.ThisUpdate) {
		return time.Time{}, errStaleCRL
	}

	now := s.now().UTC()
	c := CRL{ID: nameUUID("crl", ta.ID+"/"+f.Name), Name: f.Name, TrustAnchorID: ta.ID,
		CreatedAt: now}
	if cur != nil {
		c = *cur
	}
	c.Data, c.Enabled, c.UpdatedAt = bytes.Clone(data), true, now
	return list.NextUpdate, s.putCRL(ctx, c)
}

// resolveAnchorLocked finds a trust anchor by ID, ARN or name.
func (s *Server) resolveAnchorLocked(ref string) (TrustAnchor, bool) {
	if ta, ok := s.anchors[ref]; ok {
		return ta, true
	}
	for id, ta := range s.anchors {
		if ref == s.arn("trust-anchor", id) || ref == ta.Name {
			return ta, true
		}
	}
	return TrustAnchor{}, false
}
