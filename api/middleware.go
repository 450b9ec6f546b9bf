package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/anchorpki/anchor/store"
)

// call is the state of one request: its id, its logger, the authenticated
// caller and the audit records it produced.
type call struct {
	api   *API
	id    string
	log   *slog.Logger
	actor string       // token name or "mtls:<CN>"; empty before authentication
	role  store.Role   // empty before authentication
	token *store.Token // nil for mTLS callers
	// reject is the reason label of anchor_requests_rejected_total, set by
	// fail for 4xx answers.
	reject string
	audits []store.AuditRecord
	// audited is set once records were written for this call.
	audited bool
}

// audit queues an audit record; it is written before the response.
func (c *call) audit(action, serial, detail string) {
	c.audits = append(c.audits, store.AuditRecord{
		At:        c.api.now().UTC(),
		Actor:     c.actor,
		Action:    action,
		Serial:    serial,
		RequestID: c.id,
		Detail:    detail,
	})
}

// flush writes the queued audit records. A failure is logged, not returned:
// by the time a request has something to audit, its effect is durable.
func (c *call) flush(ctx context.Context) {
	if len(c.audits) == 0 {
		return
	}
	recs := c.audits
	c.audits, c.audited = nil, true
	if err := c.api.svc.AppendAudit(context.WithoutCancel(ctx), recs...); err != nil {
		c.log.Error("audit trail write failed", "err", err, "records", len(recs))
	}
}

// Error is the body of every refusal: {"error": "<message>"}, the serverless
// CA's shape. Rejections lists the refused entries of a GitOps apply.
type Error struct {
	Error      string   `json:"error"`
	Rejections []string `json:"rejections,omitempty"`
}

// fail answers with {"error": msg}. reason labels the rejection metric for
// 4xx statuses.
func (c *call) fail(w http.ResponseWriter, status int, reason, msg string) {
	c.failWith(w, status, reason, &Error{Error: msg})
}

func (c *call) failWith(w http.ResponseWriter, status int, reason string, e *Error) {
	if status < 500 {
		c.reject = reason
	}
	c.reply(w, status, e)
}

// reply flushes the audit records, then writes v as JSON.
func (c *call) reply(w http.ResponseWriter, status int, v any) {
	c.flush(context.Background())
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		c.log.Error("encode response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// internal answers 500 without details, which go to the log.
func (c *call) internal(w http.ResponseWriter, what string, err error) {
	c.log.Error(what, "err", err)
	c.fail(w, http.StatusInternalServerError, "", what)
}

// statusWriter remembers the status and size of the response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// endpoint wraps a route's handler with what every request gets: a request id,
// the body limit, authentication, metrics, the audit trail and one log line.
func (a *API) endpoint(rt route) http.Handler {
	label := rt.method + " " + rt.path
	if rt.method == "" {
		label = rt.path
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		rw.Header().Set("X-Request-Id", id)
		w := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		c := &call{api: a, id: id, log: a.log.With("request_id", id)}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				c.log.Error("handler panic", "panic", fmt.Sprint(p),
					"stack", string(debug.Stack()))
				if !w.wrote {
					c.fail(w, http.StatusInternalServerError, "", "internal error")
				}
			}
			if c.actor != "" && len(c.audits) == 0 && !c.audited {
				c.audit("token.use", "", fmt.Sprintf("%s %s -> %d", r.Method,
					r.URL.Path, w.status))
			}
			c.flush(r.Context())
			d := time.Since(start)
			a.metrics.request(label, w.status, d, c.reject)
			level := slog.LevelInfo
			if w.status >= 500 {
				level = slog.LevelError
			}
			c.log.Log(r.Context(), level, "request", "method", r.Method,
				"path", r.URL.Path, "route", label, "status", w.status,
				"duration", d, "token", c.actor, "bytes", w.bytes)
		}()

		if r.ContentLength > MaxBodySize {
			c.fail(w, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("request body is larger than %d bytes", MaxBodySize))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodySize)
		if rt.role != "" && !a.authenticate(w, r, c, rt.role) {
			return
		}
		rt.handle(w, r, c)
	})
}

// requestID keeps an incoming id made of at most 128 letters, digits and
// ".-_:" characters, and otherwise makes a new random one.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 {
		ok := true
		for i := 0; i < n && ok; i++ {
			ch := in[i]
			ok = ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' ||
				ch >= '0' && ch <= '9' || ch == '.' || ch == '-' || ch == '_' || ch == ':'
		}
		if ok {
			return in
		}
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readBody reads the bounded body. On failure it has answered (413 for a body
// over the limit, 400 otherwise) and returns false.
func (c *call) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	if err == nil {
		return data, true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		c.fail(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("request body is larger than %d bytes", MaxBodySize))
		return nil, false
	}
	c.fail(w, http.StatusBadRequest, "malformed", "cannot read the request body: "+err.Error())
	return nil, false
}

// decodeStrict reads a JSON body of Anchor's own into v: unknown keys and data
// after the value are errors. An empty body leaves v as it is when
// emptyOK. On failure it has answered and returns false.
func (c *call) decodeStrict(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) bool {
	data, ok := c.readBody(w, r)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return true
		}
		c.fail(w, http.StatusBadRequest, "malformed", "request body is empty")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		c.fail(w, http.StatusBadRequest, "malformed", "request body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		c.fail(w, http.StatusBadRequest, "malformed",
			"request body has data after the JSON value")
		return false
	}
	return true
}
