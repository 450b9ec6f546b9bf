package groupcommit

import "sync"

// Gate admits calls until it is closed, and lets Close wait until the calls
// admitted before have left. Unlike a sync.RWMutex it never blocks Enter, so
// a call made from inside a callback of another call (such as RevokedEntries)
// cannot deadlock with Close. The zero Gate is open.
type Gate struct {
	mu     sync.Mutex
	idle   *sync.Cond
	closed bool
	active int
}

// Enter admits a call, or reports false once the gate is closed. Every call
// admitted must end with Leave.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.active++
	return true
}

// Leave ends a call admitted by Enter.
func (g *Gate) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	if g.active == 0 && g.idle != nil {
		g.idle.Broadcast()
	}
}

// Close shuts the gate and waits for the admitted calls to leave. It reports
// false if the gate was already closed.
func (g *Gate) Close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	g.idle = sync.NewCond(&g.mu)
	for g.active > 0 {
		g.idle.Wait()
	}
	return true
}
