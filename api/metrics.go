package api

import (
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// durationBuckets are the upper bounds of the request duration histogram, in
// seconds: from a millisecond (a cached read) to ten seconds (a stuck store).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics holds the counters behind /metrics. It is written in the Prometheus
// text exposition format by hand, so Anchor needs no client library.
type metrics struct {
	issued, revoked atomic.Int64

	mu       sync.Mutex
	rejected map[string]int64 // by reason
	crls     map[string]crlState
	hist     map[histKey]*histogram
}

type crlState struct {
	number                 *big.Int
	thisUpdate, nextUpdate time.Time
	entries                int
}

type histKey struct {
	route string
	code  int
}

type histogram struct {
	counts []int64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      int64
}

func newMetrics() *metrics {
	return &metrics{
		rejected: map[string]int64{},
		crls:     map[string]crlState{},
		hist:     map[histKey]*histogram{},
	}
}

// request records a finished request; reason is set for refused requests.
func (m *metrics) request(route string, code int, d time.Duration, reason string) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	if reason != "" {
		m.rejected[reason]++
	}
	k := histKey{route, code}
	h := m.hist[k]
	if h == nil {
		h = &histogram{counts: make([]int64, len(durationBuckets)+1)}
		m.hist[k] = h
	}
	i, _ := slices.BinarySearch(durationBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

// CRLPublished updates the CRL gauges of /metrics for issuer (a CA slug).
// `anchor serve` calls it after each publication; POST /v1/crl calls it
// itself.
func (a *API) CRLPublished(issuer string, number *big.Int, thisUpdate, nextUpdate time.Time,
	entries int) {
	a.metrics.mu.Lock()
	defer a.metrics.mu.Unlock()
	a.metrics.crls[issuer] = crlState{number: new(big.Int).Set(number),
		thisUpdate: thisUpdate, nextUpdate: nextUpdate, entries: entries}
}

func (a *API) serveMetrics(w http.ResponseWriter, _ *http.Request, _ *call) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	a.metrics.write(w, a.now())
}

// write renders every family in the text format, labels sorted so that the
// output is stable.
func (m *metrics) write(out io.Writer, now time.Time) {
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}

	family("anchor_certificates_issued_total", "counter",
		"Certificates issued through the API (POST /v1/certificates and /v1/apply).")
	fmt.Fprintf(&b, "anchor_certificates_issued_total %d\n", m.issued.Load())
	family("anchor_certificates_revoked_total", "counter",
		"Certificates revoked through the API.")
	fmt.Fprintf(&b, "anchor_certificates_revoked_total %d\n", m.revoked.Load())

	m.mu.Lock()
	defer m.mu.Unlock()

	family("anchor_requests_rejected_total", "counter",
		"API requests refused, by reason (malformed, profile, token_policy, forbidden, "+
			"unauthenticated, too_large, not_found, conflict).")
	for _, reason := range sortedKeys(m.rejected) {
		fmt.Fprintf(&b, "anchor_requests_rejected_total{reason=%s} %d\n",
			quote(reason), m.rejected[reason])
	}

	issuers := sortedKeys(m.crls)
	gauges := []struct {
		name, help string
		value      func(crlState) string
	}{
		{"anchor_crl_number", "CRL number of the last CRL published.",
			func(s crlState) string { return s.number.String() }},
		{"anchor_crl_age_seconds", "Seconds since thisUpdate of the last CRL.",
			func(s crlState) string { return seconds(now.Sub(s.thisUpdate)) }},
		{"anchor_crl_next_update_seconds", "Seconds until nextUpdate of the last CRL " +
			"(negative once it is stale).",
			func(s crlState) string { return seconds(s.nextUpdate.Sub(now)) }},
		{"anchor_crl_entries", "Entries of the last CRL.",
			func(s crlState) string { return strconv.Itoa(s.entries) }},
	}
	for _, g := range gauges {
		family(g.name, "gauge", g.help)
		for _, iss := range issuers {
			fmt.Fprintf(&b, "%s{issuer=%s} %s\n", g.name, quote(iss), g.value(m.crls[iss]))
		}
	}

	const hname = "anchor_http_request_duration_seconds"
	family(hname, "histogram", "Duration of API requests by route and status code.")
	keys := make([]histKey, 0, len(m.hist))
	for k := range m.hist {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y histKey) int {
		if c := strings.Compare(x.route, y.route); c != 0 {
			return c
		}
		return x.code - y.code
	})
	for _, k := range keys {
		h := m.hist[k]
		labels := fmt.Sprintf("route=%s,code=\"%d\"", quote(k.route), k.code)
		var cum int64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", hname, labels,
				strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n", hname, labels, h.n)
		fmt.Fprintf(&b, "%s_sum{%s} %s\n", hname, labels,
			strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "%s_count{%s} %d\n", hname, labels, h.n)
	}
	io.WriteString(out, b.String())
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// quote writes a label value with the escapes of the text format.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
