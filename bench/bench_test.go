package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/anchorpki/anchor/api/apitest"
	"github.com/anchorpki/anchor/bench"
	"github.com/anchorpki/anchor/store"
)

// TestIssueCountsAddUp runs the benchmark briefly against an in-process API
// with a real SQLite store and checks its bookkeeping against the store.
func TestIssueCountsAddUp(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		e := apitest.New(t)
		res, err := bench.Issue(context.Background(), bench.Options{
			Server:      e.URL,
			Token:       e.Tokens[store.RoleIssuer],
			Concurrency: 4,
			Duration:    300 * time.Millisecond,
			Pool:        64,
			ReuseKeys:   reuse,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reuse=%v: %s", reuse, res)
		if res.Requests != res.Issued+res.Rejected+res.Failed {
			t.Errorf("requests %d != issued %d + rejected %d + failed %d", res.Requests,
				res.Issued, res.Rejected, res.Failed)
		}
		if res.Issued == 0 || res.Rejected != 0 || res.Failed != 0 || res.FirstError != "" {
			t.Errorf("reuse=%v: %s (first error %q)", reuse, res, res.FirstError)
		}
		certs, err := e.Store.List(context.Background(),
			store.Filter{Issuer: e.CA.Issuing.Slug})
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != res.Issued {
			t.Errorf("store holds %d certificates, the benchmark counted %d issued",
				len(certs), res.Issued)
		}
		if res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 || res.P99 > res.Max {
			t.Errorf("percentiles out of order: %s", res)
		}
	}
}

// TestIssueCountsRejections points the benchmark at a token that may not
// issue: every request is counted as rejected.
func TestIssueCountsRejections(t *testing.T) {
	e := apitest.New(t)
	res, err := bench.Issue(context.Background(), bench.Options{
		Server: e.URL, Token: e.Tokens[store.RoleReader], Concurrency: 2,
		Duration: 100 * time.Millisecond, Pool: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Rejected != res.Requests || res.Issued != 0 ||
		res.FirstError != `status 403: {"error":"reader has role reader; `+
			`POST /v1/certificates needs issuer"}` {
		t.Fatalf("%s, first error %q", res, res.FirstError)
	}
}

func TestOptionsChecked(t *testing.T) {
	for _, o := range []bench.Options{
		{Token: "x"},
		{Server: "http://127.0.0.1:1"},
		{Server: "http://127.0.0.1:1", Token: "x", KeyType: "dsa"},
	} {
		if _, err := bench.Issue(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
