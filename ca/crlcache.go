package ca

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/anchorpki/anchor/crl"
	"github.com/anchorpki/anchor/store"
)

// RevokedCache is a store.Store that also keeps, per issuer, every revoked
// certificate in memory in a compact form, so that IssueCRL need not read a
// million rows from the store for each CRL. A CA whose Store is a
// RevokedCache issues its CRLs from the cache; every other call goes to the
// wrapped store unchanged.
//
// The cache is loaded in full the first time an issuer's CRL is built, and
// before each later CRL it reads only the revocations made since the store
// revision it last saw (store.Store.RevokedSince). That read is consistent
// with one revision of the store, so revocations made through another
// process or replica sharing the store are picked up exactly once. A
// revocation is final, so entries are never changed or removed, except that
// entries whose notAfter is before a CRL's cut-off may be dropped: IssueCRL
// never lists them again, and if a later cut-off were ever lower (clocks of
// replicas disagree) the issuer is loaded again in full.
//
// An entry takes 40 bytes (a 20-byte serial, revocation date and notAfter in
// Unix seconds, the reason), so a million revoked certificates cost 40 MB.
// Building a CRL from it allocates nothing per entry: the crl.Builder gets
// the serial bytes directly and a buffer of the CRL's exact size.
type RevokedCache struct {
	store.Store

	mu      sync.Mutex
	issuers map[string]*revokedSet
}

// NewRevokedCache returns a RevokedCache over s. It reads nothing until the
// first CRL is built or Load is called.
func NewRevokedCache(s store.Store) *RevokedCache {
	return &RevokedCache{Store: s, issuers: map[string]*revokedSet{}}
}

// Load reads the revoked certificates of each issuer (a CA slug) into the
// cache, so that the first CRL after a start is as fast as the later ones.
func (r *RevokedCache) Load(ctx context.Context, issuers ...string) error {
	for _, iss := range issuers {
		set := r.set(iss)
		set.mu.Lock()
		err := set.refresh(ctx, r.Store, iss)
		set.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of entries the cache holds for issuer.
func (r *RevokedCache) Len(issuer string) int {
	set := r.set(issuer)
	set.mu.Lock()
	defer set.mu.Unlock()
	return len(set.sorted) + len(set.recent)
}

// set returns the cache of one issuer, making it on first use.
func (r *RevokedCache) set(issuer string) *revokedSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.issuers[issuer]
	if s == nil {
		s = &revokedSet{floor: math.MinInt64}
		r.issuers[issuer] = s
	}
	return s
}

// revokedEntry is one revoked certificate in 40 bytes: the serial as a
// 20-byte big-endian number (serials are below 2^160), so that comparing the
// arrays compares the numbers.
type revokedEntry struct {
	revokedAt int64 // Unix seconds
	notAfter  int64 // Unix seconds
	serial    [20]byte
	reason    uint8
}

func compareSerials(a, b *revokedEntry) int { return bytes.Compare(a.serial[:], b.serial[:]) }

// revokedSet is the cache of one issuer. Entries are in two runs, each in
// serial order: sorted holds nearly all of them and recent the revocations of
// the last refreshes, so that a refresh sorts only what it read and a CRL
// merges the two as it goes. recent is folded into sorted when it grows past
// a small share of it.
type revokedSet struct {
	mu     sync.Mutex // held through a refresh and the CRL built from it
	loaded bool
	rev    int64 // the store revision the entries are consistent with
	// floor is the notAfter below which entries have been dropped;
	// math.MinInt64 while none has.
	floor  int64
	sorted []revokedEntry
	recent []revokedEntry
}

// refresh brings the set up to the store's current revision: a full read the
// first time, the revocations since s.rev after that. On error the set is
// left as it was.
func (s *revokedSet) refresh(ctx context.Context, st store.Store, issuer string) error {
	after := s.rev
	if !s.loaded {
		after = -1
	}
	var fresh []revokedEntry
	upTo, err := st.RevokedSince(ctx, issuer, after, func(e store.RevokedEntry, _ int64) error {
		if e.Serial == nil || e.Serial.Sign() <= 0 || e.Serial.BitLen() > 160 {
			return fmt.Errorf("serial %v of %s is not a positive number of at most 20 octets",
				e.Serial, issuer)
		}
		x := revokedEntry{
			revokedAt: e.RevokedAt.Unix(),
			notAfter:  e.NotAfter.Unix(),
			reason:    uint8(e.Reason),
		}
		e.Serial.FillBytes(x.serial[:])
		fresh = append(fresh, x)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoked certificates of %s since revision %d: %w", issuer, after, err)
	}
	slices.SortFunc(fresh, func(a, b revokedEntry) int { return compareSerials(&a, &b) })

	if !s.loaded {
		s.sorted, s.recent = slices.Clip(fresh), nil
		s.loaded, s.floor = true, math.MinInt64
	} else if len(fresh) > 0 {
		s.recent = mergeEntries(s.recent, fresh)
		if len(s.recent) > max(4096, len(s.sorted)/64) {
			s.sorted, s.recent = mergeEntries(s.sorted, s.recent), nil
		}
	}
	s.rev = upTo
	return nil
}

// mergeEntries merges b into a, both in serial order.
func mergeEntries(a, b []revokedEntry) []revokedEntry {
	out := make([]revokedEntry, len(a)+len(b))
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if compareSerials(&a[i], &b[j]) <= 0 {
			out[k] = a[i]
			i++
		} else {
			out[k] = b[j]
			j++
		}
		k++
	}
	k += copy(out[k:], a[i:])
	copy(out[k:], b[j:])
	return out
}

// each calls fn for every entry in serial order, merging the two runs.
func (s *revokedSet) each(fn func(e *revokedEntry) error) error {
	j := 0
	for i := range s.sorted {
		e := &s.sorted[i]
		for j < len(s.recent) && compareSerials(&s.recent[j], e) < 0 {
			if err := fn(&s.recent[j]); err != nil {
				return err
			}
			j++
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	for ; j < len(s.recent); j++ {
		if err := fn(&s.recent[j]); err != nil {
			return err
		}
	}
	return nil
}

// listed reports whether e goes on a CRL with this cut-off and thisUpdate
// (Unix seconds): the rules of IssueCRL's store path.
func listed(e *revokedEntry, cutoff, this int64) bool {
	return e.notAfter >= cutoff && e.revokedAt <= this
}

// entryLen is the DER length of e's revokedCertificates entry: SEQUENCE and
// INTEGER headers, the serial with a 0x00 pad when its top bit is set, the
// date as UTCTime through 2049 and GeneralizedTime after, and the reasonCode
// extension unless the reason is unspecified (RFC 5280 5.1.2.6, 5.3.1).
func entryLen(e *revokedEntry) int {
	i := 0
	for i < len(e.serial)-1 && e.serial[i] == 0 {
		i++
	}
	n := 2 + 2 + len(e.serial) - i + int(e.serial[i]>>7)
	if e.revokedAt < utcTimeEnd {
		n += 2 + 13
	} else {
		n += 2 + 15
	}
	if e.reason != 0 {
		n += 14
	}
	return n
}

// utcTimeEnd is 2050-01-01T00:00:00Z, the first date a CRL writes as a
// GeneralizedTime.
const utcTimeEnd = 2524608000

// collectAbove is the CRL size from which build collects garbage first.
const collectAbove = 8 << 20

// maxEntryLen is the most room crl.Builder asks to have free before an entry.
const maxEntryLen = 56

// build builds the entries of a CRL of issuer from the cache; see
// revokedSet.build.
func (r *RevokedCache) build(ctx context.Context, issuer string, p crl.Params,
	cutoff time.Time) (*crl.Builder, int, error) {
	set := r.set(issuer)
	set.mu.Lock()
	defer set.mu.Unlock()
	b, n, err := set.build(ctx, r.Store, issuer, p, cutoff)
	if err != nil {
		return nil, 0, fmt.Errorf("revoked entries of %s: %w", issuer, err)
	}
	return b, n, nil
}

// build refreshes the set and writes the CRL's entries into a Builder it
// makes with p. cutoff and thisUpdate are as in IssueCRL; a zero cutoff
// lists every entry whatever its notAfter.
func (s *revokedSet) build(ctx context.Context, st store.Store, issuer string,
	p crl.Params, cutoff time.Time) (*crl.Builder, int, error) {
	cut := int64(math.MinInt64)
	if !cutoff.IsZero() {
		cut = cutoff.Unix()
		if cutoff.Nanosecond() != 0 {
			cut++ // notAfter is whole seconds: the store's unixCeil
		}
	}
	if cut < s.floor {
		s.loaded = false // entries this CRL lists were dropped: read them again
	}
	if err := s.refresh(ctx, st, issuer); err != nil {
		return nil, 0, err
	}
	this := p.ThisUpdate.Unix()

	// One pass to size the CRL exactly, so that the builder's buffer is
	// allocated once and no larger than the entries need.
	size, n, expired := 0, 0, 0
	_ = s.each(func(e *revokedEntry) error {
		switch {
		case listed(e, cut, this):
			size += entryLen(e)
			n++
		case e.notAfter < cut:
			expired++
		}
		return nil
	})
	if size >= collectAbove {
		// The buffer of the previous CRL is garbage by now (the caller has
		// published it), but with the default GOGC the collector would let
		// the heap grow to twice the cache and this CRL before reclaiming
		// it. Collecting first lets this buffer reuse that memory, so the
		// peak stays near the cache plus one CRL. The heap is mostly
		// pointer-free arrays, so a collection costs about a millisecond.
		runtime.GC()
	}
	b, err := crl.NewBuilder(p, (size+maxEntryLen-1)/maxEntryLen+1)
	if err != nil {
		return nil, 0, err
	}
	err = s.each(func(e *revokedEntry) error {
		if !listed(e, cut, this) {
			return nil
		}
		return b.AddBytes(e.serial[:], time.Unix(e.revokedAt, 0), int(e.reason))
	})
	if err != nil {
		return nil, 0, err
	}

	// Entries past the cut-off are never listed again; drop them once they
	// are a noticeable share, rather than copying the set for a few.
	if expired > 1024 && expired > (len(s.sorted)+len(s.recent))/16 {
		s.compact(cut)
	}
	return b, n, nil
}

// compact drops the entries whose notAfter is before cut.
func (s *revokedSet) compact(cut int64) {
	keep := func(e revokedEntry) bool { return e.notAfter >= cut }
	s.sorted = slices.Clip(filterEntries(s.sorted, keep))
	s.recent = filterEntries(s.recent, keep)
	s.floor = max(s.floor, cut)
}

// filterEntries keeps the entries of es for which keep is true, into a new
// slice so that the old, larger array can be freed.
func filterEntries(es []revokedEntry, keep func(revokedEntry) bool) []revokedEntry {
	n := 0
	for _, e := range es {
		if keep(e) {
			n++
		}
	}
	out := make([]revokedEntry, 0, n)
	for _, e := range es {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
