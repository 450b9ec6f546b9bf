package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/anchorpki/anchor/api/apitest"
	"github.com/anchorpki/anchor/store"
)

// BenchmarkHTTPIssue issues certificates over real HTTP on loopback, from
// parallel clients with keep-alive connections, against a SQLite store. Every
// request has a CSR for a fresh key (made before the timer starts), so the
// server does the full work: authentication, CSR verification, the key
// history lookup, signing, the durable insert and the audit record.
func BenchmarkHTTPIssue(b *testing.B) {
	e := apitest.New(b)
	tok := e.Tokens[store.RoleIssuer]
	bodies := make([][]byte, b.N)
	for i := range bodies {
		data, err := json.Marshal(apitest.Request(b, "bench.example.com",
			map[string]any{"lifetime": 1}))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = data
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var next, failed atomic.Int64

	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest("POST", e.URL+"/v1/certificates",
				bytes.NewReader(bodies[next.Add(1)-1]))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
