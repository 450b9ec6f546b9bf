package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anchorpki/anchor/publish"
)

// maxWait bounds how long a long-poll request is held.
const maxWait = 60 * time.Second

// objects serves published CRLs and CA certificates at /{name}.
//
// A relying party that wants a new CRL the moment it exists (Anchor's own
// Roles Anywhere follower, for one) sends If-None-Match with the ETag it has
// and "Prefer: wait=N": the request is held until the object changes (200 with
// the new body) or N seconds pass (304). Plain clients get ordinary conditional
// GETs.
type objects struct {
	pub publish.Publisher
	now func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever anything is published

	stopOnce sync.Once
	stopped  chan struct{} // closed at shutdown: held requests answer at once
}

func newObjects(pub publish.Publisher, now func() time.Time) *objects {
	return &objects{pub: pub, now: now, changed: make(chan struct{}),
		stopped: make(chan struct{})}
}

// stop answers every held request, so that shutdown does not wait for them.
func (o *objects) stop() { o.stopOnce.Do(func() { close(o.stopped) }) }

// announce wakes every held request; call it after publishing.
func (o *objects) announce() {
	o.mu.Lock()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func (o *objects) waitChannel() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *objects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if publish.ValidName(name) != nil {
		http.NotFound(w, r)
		return
	}
	wait := preferWait(r.Header.Get("Prefer"))
	deadline := time.NewTimer(wait)
	defer deadline.Stop()

	for {
		// Take the channel before reading, so a publish in between wakes us.
		changed := o.waitChannel()
		obj, err := o.pub.Get(r.Context(), name)
		if errors.Is(err, publish.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, "object unavailable", http.StatusInternalServerError)
			return
		}
		etag := obj.ETag
		if wait == 0 || !etagMatch(r.Header.Get("If-None-Match"), etag) {
			o.write(w, r, obj)
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			o.write(w, r, obj) // If-None-Match still matches: 304
			return
		case <-o.stopped:
			o.write(w, r, obj)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (o *objects) write(w http.ResponseWriter, r *http.Request, obj *publish.Object) {
	h := w.Header()
	h.Set("Content-Type", obj.ContentType)
	h.Set("ETag", obj.ETag)
	h.Set("Cache-Control", publish.CacheControl(*obj, o.now()))
	http.ServeContent(w, r, "", obj.ModTime, bytes.NewReader(obj.Data))
}

// preferWait reads RFC 7240 "Prefer: wait=N", capped at maxWait.
func preferWait(h string) time.Duration {
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxWait)
	}
	return 0
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == etag || t == "W/"+etag || t == "*" {
			return true
		}
	}
	return false
}
