package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/anchorpki/anchor/store"
)

// fakeDB is a WriteFunc over an in-memory set of ints. A request is an int
// to record; a negative int fails its own statement, 0 fails the whole
// transaction, and a number already recorded is a duplicate. Hold blocks the
// next write until released, so that requests pile up in the queue.
type fakeDB struct {
	mu      sync.Mutex
	rows    map[int]bool
	groups  [][]int // every group write was called with
	entered chan struct{}
	hold    chan struct{}
}

var errDup = errors.New("duplicate")

func newFakeDB() *fakeDB {
	return &fakeDB{rows: map[int]bool{}}
}

func (db *fakeDB) write(reqs []int, outcome []error) (int, error) {
	if db.hold != nil {
		db.entered <- struct{}{}
		<-db.hold
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.groups = append(db.groups, append([]int(nil), reqs...))
	added := map[int]bool{}
	for i, r := range reqs {
		switch {
		case r == 0:
			return -1, errors.New("transaction failed")
		case r < 0:
			return i, fmt.Errorf("request %d refused", r)
		case db.rows[r] || added[r]:
			outcome[i] = fmt.Errorf("%d: %w", r, errDup)
		default:
			added[r] = true
		}
	}
	for r := range added {
		db.rows[r] = true
	}
	return 0, nil
}

// waitQueued blocks until q holds n queued requests.
func waitQueued(t *testing.T, q *Queue[int], n int) {
	t.Helper()
	for q.Stats().Queued != n {
		// Submit sends on the channel at once: yielding is enough.
		runtime.Gosched()
	}
}

func TestGroupOutcomes(t *testing.T) {
	db := newFakeDB()
	db.entered, db.hold = make(chan struct{}), make(chan struct{})
	var gate Gate
	q := Start(&gate, 1, 8, db.write)

	// The first request occupies the writer; the next ones form one group.
	first := make(chan error, 1)
	go func() { first <- q.Submit(context.Background(), 1) }()
	<-db.entered

	reqs := []int{2, -3, 1, 4, 2}
	errs := make([]chan error, len(reqs))
	for i, r := range reqs {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- q.Submit(context.Background(), r) }()
		waitQueued(t, q, i+1)
	}
	if got := q.Stats(); got != (Stats{Queued: 5, Committing: 1}) {
		t.Errorf("Stats while held = %+v, want Queued 5, Committing 1", got)
	}
	db.hold <- struct{}{} // group {1}
	<-db.entered
	db.hold <- struct{}{} // group {2 -3 1 4 2}: -3 fails
	<-db.entered
	db.hold <- struct{}{} // group {2 1 4 2}

	if err := <-first; err != nil {
		t.Errorf("first: %v", err)
	}
	want := []string{"", "request -3 refused", "1: duplicate", "", "2: duplicate"}
	for i, r := range reqs {
		err := <-errs[i]
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want[i] {
			t.Errorf("request %d (%d): error %q, want %q", i, r, got, want[i])
		}
	}
	if !q.Close() {
		t.Fatal("Close = false, want true")
	}
	if got, want := fmt.Sprint(db.groups), "[[1] [2 -3 1 4 2] [2 1 4 2]]"; got != want {
		t.Errorf("groups = %s, want %s", got, want)
	}
	if got := q.Stats(); got != (Stats{Commits: 2}) {
		t.Errorf("Stats = %+v, want Commits 2", got)
	}
}

func TestTransactionFailureFailsEveryone(t *testing.T) {
	db := newFakeDB()
	db.entered, db.hold = make(chan struct{}), make(chan struct{})
	var gate Gate
	q := Start(&gate, 1, 8, db.write)
	go q.Submit(context.Background(), 9)
	<-db.entered

	errs := make(chan error, 3)
	for i, r := range []int{5, 0, 6} {
		go func() { errs <- q.Submit(context.Background(), r) }()
		waitQueued(t, q, i+1)
	}
	db.hold <- struct{}{}
	<-db.entered
	db.hold <- struct{}{}
	for range 3 {
		if err := <-errs; err == nil || err.Error() != "transaction failed" {
			t.Errorf("error %v, want the transaction's", err)
		}
	}
	q.Close()
	if db.rows[5] || db.rows[6] {
		t.Errorf("rows %v: a failed transaction recorded something", db.rows)
	}
}

func TestCancelledWhileQueued(t *testing.T) {
	db := newFakeDB()
	db.entered, db.hold = make(chan struct{}), make(chan struct{})
	var gate Gate
	q := Start(&gate, 1, 8, db.write)
	go q.Submit(context.Background(), 1)
	<-db.entered

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- q.Submit(ctx, 2) }()
	waitQueued(t, q, 1)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Submit: %v, want context.Canceled", err)
	}
	// Let every later write through, so that a wrong one shows in groups.
	close(db.hold)
	go func() {
		for range db.entered {
		}
	}()
	q.Close() // the writer drops the abandoned request without writing it
	if got, want := fmt.Sprint(db.groups), "[[1]]"; got != want {
		t.Errorf("groups = %s, want %s", got, want)
	}
	if err := q.Submit(ctx, 3); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Submit after Close: %v, want store.ErrClosed", err)
	}
}

func TestCloseDrains(t *testing.T) {
	db := newFakeDB()
	var gate Gate
	q := Start(&gate, 4, 16, db.write)
	var wg sync.WaitGroup
	for i := 1; i <= 200; i++ {
		wg.Go(func() {
			if err := q.Submit(context.Background(), i); err != nil {
				t.Errorf("Submit(%d): %v", i, err)
			}
		})
	}
	wg.Wait()
	if first, second := q.Close(), q.Close(); !first || second {
		t.Error("Close, Close = want true, false")
	}
	if len(db.rows) != 200 {
		t.Errorf("%d rows recorded, want 200", len(db.rows))
	}
	if err := q.Submit(context.Background(), 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Submit after Close: %v, want store.ErrClosed", err)
	}
}

func TestGateCloseWaitsForCalls(t *testing.T) {
	var g Gate
	for range 2 {
		if !g.Enter() {
			t.Fatal("Enter on an open gate = false")
		}
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	g.Leave()
	select {
	case <-closed:
		t.Fatal("Close returned with a call still in progress")
	default:
	}
	g.Leave()
	if !<-closed {
		t.Error("first Close = false, want true")
	}
	if g.Enter() {
		t.Error("Enter after Close = true")
	}
	if g.Close() {
		t.Error("second Close = true")
	}
}
