package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/store"
)

// revocation is one report of RevokedSince, as a string that compares every
// field.
func revocation(e store.RevokedEntry, rev int64) string {
	return fmt.Sprintf("%s@%d %s %s %s", e.Serial, rev, e.Reason,
		e.RevokedAt.Format(time.RFC3339), e.NotAfter.Format(time.RFC3339))
}

// revokedSince collects what RevokedSince reports.
func revokedSince(t *testing.T, s store.Store, issuer string, after int64) (
	[]string, int64) {
	t.Helper()
	var got []string
	upTo, err := s.RevokedSince(context.Background(), issuer, after,
		func(e store.RevokedEntry, rev int64) error {
			got = append(got, revocation(e, rev))
			return nil
		})
	if err != nil {
		t.Fatalf("RevokedSince(%s, %d): %v", issuer, after, err)
	}
	return got, upTo
}

func testRevokedSince(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, upTo := revokedSince(t, s, issuerA, -1); len(got) != 0 || upTo != 0 {
		t.Errorf("RevokedSince on an empty store = %v, %d; want nothing, 0", got, upTo)
	}

	day := 24 * time.Hour
	for _, n := range []int64{1, 2, 3} {
		c := newCert(num(n))
		c.NotAfter = base.Add(time.Duration(n) * day)
		insert(t, s, c)
	}
	b := newCert(num(7))
	b.Issuer = issuerB
	insert(t, s, b)
	revoke := func(n int64, at time.Time, r store.Reason) {
		t.Helper()
		if _, _, err := s.Revoke(ctx, num(n), at, r); err != nil {
			t.Fatalf("Revoke(%d): %v", n, err)
		}
	}
	revoke(1, base.Add(-time.Hour), store.ReasonKeyCompromise) // revision 1
	revoke(7, base.Add(-time.Hour), store.ReasonSuperseded)    // revision 2
	pre := newCert(pow2(158))                                  // revision 3
	pre.RevokedAt, pre.Reason = timePtr(base.Add(-2*time.Hour)), store.ReasonCACompromise
	insert(t, s, pre)
	revoke(3, base.Add(-30*time.Minute), store.ReasonUnspecified) // revision 4
	revoke(1, base, store.ReasonSuperseded)                       // no change

	var (
		e1 = "1@1 keyCompromise 2029-12-31T23:00:00Z 2030-01-02T00:00:00Z"
		e7 = "7@2 superseded 2029-12-31T23:00:00Z 2030-04-01T00:00:00Z"
		eP = pow2(158).String() +
			"@3 cACompromise 2029-12-31T22:00:00Z 2030-04-01T00:00:00Z"
		e3 = "3@4 unspecified 2029-12-31T23:30:00Z 2030-01-04T00:00:00Z"
	)
	tests := []struct {
		issuer string
		after  int64
		want   []string
	}{
		{issuerA, -1, []string{e1, eP, e3}},
		{issuerA, 0, []string{e1, eP, e3}},
		{issuerA, 1, []string{eP, e3}},
		{issuerA, 3, []string{e3}},
		{issuerA, 4, nil},
		{issuerA, 99, nil},
		{issuerB, -1, []string{e7}},
		{issuerB, 2, nil},
		{"nobody", -1, nil},
	}
	for _, tc := range tests {
		got, upTo := revokedSince(t, s, tc.issuer, tc.after)
		if !equalStrings(got, tc.want) || upTo != 4 {
			t.Errorf("RevokedSince(%s, %d) = %q, %d; want %q, 4",
				tc.issuer, tc.after, got, upTo, tc.want)
		}
	}

	// An error from fn stops the walk and comes back as it is.
	stop := errors.New("stop here")
	calls := 0
	_, err := s.RevokedSince(ctx, issuerA, -1, func(store.RevokedEntry, int64) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("RevokedSince with a failing fn: %v after %d calls; want %v after 1",
			err, calls, stop)
	}
}

// testRevokedSinceConcurrent revokes from several goroutines while a reader
// follows with RevokedSince, and checks that the reader saw every revocation
// exactly once, each with a revision above the one it asked after and at most
// the one it was told.
func testRevokedSinceConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, each = 4, 25
	for i := range workers * each {
		insert(t, s, newCert(num(int64(100+i))))
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := int64(100 + w*each + i)
				if _, _, err := s.Revoke(ctx, num(n), base, store.ReasonKeyCompromise); err != nil {
					errs <- fmt.Errorf("Revoke(%d): %w", n, err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	after, reads := int64(-1), 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one more read after the last revocation
		default:
		}
		upTo, err := s.RevokedSince(ctx, issuerA, after,
			func(e store.RevokedEntry, rev int64) error {
				if rev <= after {
					return fmt.Errorf("serial %s at revision %d, asked after %d",
						e.Serial, rev, after)
				}
				seen[e.Serial.String()]++
				return nil
			})
		if err != nil {
			t.Fatalf("RevokedSince after %d: %v", after, err)
		}
		if upTo < after {
			t.Fatalf("RevokedSince after %d returned upTo %d", after, upTo)
		}
		after = upTo
		reads++
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for i := range workers * each {
		if k := new(big.Int).SetInt64(int64(100 + i)).String(); seen[k] != 1 {
			t.Errorf("serial %s reported %d times, want once", k, seen[k])
		}
	}
	if len(seen) != workers*each {
		t.Errorf("%d serials reported, want %d", len(seen), workers*each)
	}
	if after != workers*each {
		t.Errorf("last upTo = %d, want %d (one revision per revocation)", after, workers*each)
	}
	t.Logf("%d reads", reads)
}
