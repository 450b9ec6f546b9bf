package anywhere

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the relying party: CreateSession, the control plane and STS on
// one http.Handler. Create it with NewServer and release it with Close.
type Server struct {
	cfg    Config
	store  Store
	sealer *sealer
	now    func() time.Time
	log    *slog.Logger
	region string
	acct   string
	roles  map[string]RoleConfig

	// mu guards the configuration records and serialises snapshot rebuilds.
	mu       sync.Mutex
	anchors  map[string]TrustAnchor
	profiles map[string]Profile
	crls     map[string]CRL
	parsed   map[string]*parsedCRL // by CRL id
	snap     atomic.Pointer[snapshot]

	subjMu        sync.Mutex
	subjects      map[string]*Subject // by subject DN
	subjectsByID  map[string]*Subject
	dirtySubjects map[string]bool

	// Sessions not yet written stay in pending; written ones are read back
	// from the store on use and kept in a bounded cache, so memory does not
	// grow with the number of live sessions.
	sessMu          sync.RWMutex
	pending         map[string]*liveSession
	pendingSessions []Session
	sessionCache    map[string]*liveSession

	adminMu   sync.RWMutex
	adminKeys map[string]string // access key id -> secret

	flushReq chan chan struct{}
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// liveSession is a session with its secret unsealed, kept in memory.
type liveSession struct {
	Session
	secret string
}

// snapshot is the read-only view used on the hot path; it is replaced whole
// whenever a trust anchor, profile or CRL changes.
type snapshot struct {
	anchorsByID  map[string]*anchorState
	anchorsByArn map[string]*anchorState
	profiles     map[string]*Profile // by ARN
}

type anchorState struct {
	anchor TrustAnchor
	arn    string
	certs  []*x509.Certificate
	// roots holds every certificate of the bundle: each is a trust anchor in
	// its own right, as in IAM Roles Anywhere.
	roots *x509.CertPool
	// revoked holds revocationKey values from every enabled CRL: a set, so a
	// lookup costs the same whatever the CRL's size.
	revoked map[string]struct{}
}

// parsedCRL caches a parsed CRL by the hash of its bytes.
type parsedCRL struct {
	sum  [32]byte
	list *x509.RevocationList
}

// NewServer opens the store, loads the state, applies the declarative parts
// of cfg and starts the background writer and the CRL followers.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, now: cfg.Now, log: cfg.Logger,
		region: cfg.Region, acct: cfg.Account,
		roles:    map[string]RoleConfig{},
		anchors:  map[string]TrustAnchor{},
		profiles: map[string]Profile{},
		crls:     map[string]CRL{},
		parsed:   map[string]*parsedCRL{},
		subjects: map[string]*Subject{}, subjectsByID: map[string]*Subject{},
		dirtySubjects: map[string]bool{},
		pending:       map[string]*liveSession{},
		sessionCache:  map[string]*liveSession{},
		adminKeys:     map[string]string{},
		flushReq:      make(chan chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.acct == "" {
		s.acct = "000000000000"
	}
	if s.cfg.FlushInterval <= 0 {
		s.cfg.FlushInterval = 100 * time.Millisecond
	}
	for _, r := range cfg.Roles {
		s.roles[r.Arn] = r
	}

	secret := cfg.Secret
	if secret == nil || s.store == nil {
		if cfg.DataDir == "" {
			return nil, errors.New("anywhere: Config.DataDir is required")
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("anywhere: create data folder: %w", err)
		}
	}
	if secret == nil {
		var err error
		if secret, err = loadServerSecret(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	sl, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	s.sealer = sl
	if s.store == nil {
		if s.store, err = OpenSQLite(cfg.DataDir); err != nil {
			return nil, err
		}
	}

	ctx := context.Background()
	if err := s.load(ctx); err != nil {
		s.store.Close()
		return nil, err
	}
	if err := s.applyDeclared(ctx); err != nil {
		s.store.Close()
		return nil, err
	}

	bg, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.wg.Add(1)
	go s.writer(bg)
	for _, f := range cfg.Follow {
		fl := s.NewFollower(f)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			fl.Run(bg)
		}()
	}
	return s, nil
}

// load reads the whole state from the store.
func (s *Server) load(ctx context.Context) error {
	tas, err := s.store.TrustAnchors(ctx)
	if err != nil {
		return err
	}
	for _, ta := range tas {
		s.anchors[ta.ID] = ta
	}
	ps, err := s.store.Profiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		s.profiles[p.ID] = p
	}
	cs, err := s.store.CRLs(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		s.crls[c.ID] = c
	}
	subs, err := s.store.Subjects(ctx)
	if err != nil {
		return err
	}
	for i := range subs {
		sub := subs[i]
		s.subjects[sub.X509Subject] = &sub
		s.subjectsByID[sub.ID] = &sub
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rebuildLocked()
	return nil
}

// applyDeclared creates or updates the trust anchors and profiles of the
// configuration.
func (s *Server) applyDeclared(ctx context.Context) error {
	now := s.now().UTC()
	for _, d := range s.cfg.TrustAnchors {
		b, err := os.ReadFile(d.CertificateFile)
		if err != nil {
			return fmt.Errorf("anywhere: trust anchor %q: %w", d.Name, err)
		}
		if _, err := parseBundle(string(b)); err != nil {
			return fmt.Errorf("anywhere: trust anchor %q: %w", d.Name, err)
		}
		id := nameUUID("trust-anchor", d.Name)
		s.mu.Lock()
		ta, ok := s.anchors[id]
		s.mu.Unlock()
		if !ok {
			ta = TrustAnchor{ID: id, CreatedAt: now}
		}
		ta.Name, ta.CertificatesPEM, ta.Enabled = d.Name, string(b), boolOr(d.Enabled, true)
		ta.UpdatedAt = now
		if err := s.putTrustAnchor(ctx, ta); err != nil {
			return err
		}
	}
	for _, d := range s.cfg.Profiles {
		id := nameUUID("profile", d.Name)
		s.mu.Lock()
		p, ok := s.profiles[id]
		s.mu.Unlock()
		if !ok {
			p = Profile{ID: id, CreatedAt: now}
		}
		p.Name, p.RoleArns = d.Name, d.RoleArns
		p.DurationSeconds = d.DurationSeconds
		if p.DurationSeconds == 0 {
			p.DurationSeconds = 3600
		}
		p.AcceptRoleSessionName, p.Enabled = d.AcceptRoleSessionName, boolOr(d.Enabled, true)
		p.UpdatedAt = now
		if err := s.putProfile(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Close stops the followers and the writer, flushes pending records and
// closes the store.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.stop()
	s.wg.Wait()
	err := s.flush(context.Background())
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Flush writes pending subject records and sessions now.
func (s *Server) Flush() {
	if s.closed.Load() {
		return
	}
	done := make(chan struct{})
	select {
	case s.flushReq <- done:
		<-done
	case <-time.After(5 * time.Second):
	}
}

// writer batches subject and session writes so that CreateSession never
// waits on a disk sync.
func (s *Server) writer(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	purge := time.NewTicker(10 * time.Minute)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case done := <-s.flushReq:
			s.flushLogged(ctx)
			close(done)
		case <-t.C:
			s.flushLogged(ctx)
		case <-purge.C:
			s.purgeSessions(ctx)
		}
	}
}

func (s *Server) flushLogged(ctx context.Context) {
	if err := s.flush(ctx); err != nil {
		s.log.Error("anywhere: batch write failed", "err", err)
	}
}

func (s *Server) flush(ctx context.Context) error {
	s.subjMu.Lock()
	var subs []Subject
	for dn := range s.dirtySubjects {
		sub := *s.subjects[dn]
		sub.Credentials = append([]SubjectCredential(nil), sub.Credentials...)
		subs = append(subs, sub)
	}
	clear(s.dirtySubjects)
	s.subjMu.Unlock()

	s.sessMu.Lock()
	sess := s.pendingSessions
	s.pendingSessions = nil
	s.sessMu.Unlock()

	var errs []error
	if err := s.store.PutSubjects(ctx, subs); err != nil {
		errs = append(errs, err)
		s.subjMu.Lock()
		for _, sub := range subs {
			s.dirtySubjects[sub.X509Subject] = true // retried next time
		}
		s.subjMu.Unlock()
	}
	err := s.store.PutSessions(ctx, sess)
	s.sessMu.Lock()
	if err != nil {
		errs = append(errs, err)
		s.pendingSessions = append(sess, s.pendingSessions...) // retried next time
	} else {
		for _, x := range sess {
			delete(s.pending, x.AccessKeyID)
		}
	}
	s.sessMu.Unlock()
	return errors.Join(errs...)
}

func (s *Server) purgeSessions(ctx context.Context) {
	now := s.now()
	s.sessMu.Lock()
	for id, ls := range s.sessionCache {
		if now.After(ls.Expiration) {
			delete(s.sessionCache, id)
		}
	}
	s.sessMu.Unlock()
	if n, err := s.store.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.Error("anywhere: purge sessions", "err", err)
	} else if n > 0 {
		s.log.Info("anywhere: purged expired sessions", "sessions", n)
	}
}

// ARN helpers.

func (s *Server) arn(kind, id string) string {
	return "arn:aws:rolesanywhere:" + s.region + ":" + s.acct + ":" + kind + "/" + id
}

// rebuildLocked replaces the snapshot from the records; s.mu must be held.
func (s *Server) rebuildLocked() {
	snap := &snapshot{
		anchorsByID:  map[string]*anchorState{},
		anchorsByArn: map[string]*anchorState{},
		profiles:     map[string]*Profile{},
	}
	for id, ta := range s.anchors {
		st := &anchorState{anchor: ta, arn: s.arn("trust-anchor", id),
			revoked: map[string]struct{}{}}
		st.certs, _ = parseBundle(ta.CertificatesPEM)
		st.roots = x509.NewCertPool()
		for _, c := range st.certs {
			st.roots.AddCert(c)
		}
		snap.anchorsByID[id] = st
		snap.anchorsByArn[st.arn] = st
	}
	for id, c := range s.crls {
		st := snap.anchorsByID[c.TrustAnchorID]
		if st == nil || !c.Enabled {
			continue
		}
		pc := s.parsedLocked(c)
		if pc == nil {
			continue
		}
		signer := crlSigner(pc.list, st.certs)
		if signer == nil {
			s.log.Warn("anywhere: CRL not signed by its trust anchor; ignored",
				"crl", id, "trust_anchor", c.TrustAnchorID)
			continue
		}
		prefix := issuerKey(signer.RawSubject, signer.RawSubjectPublicKeyInfo)
		for _, e := range pc.list.RevokedCertificateEntries {
			st.revoked[prefix+string(e.SerialNumber.Bytes())] = struct{}{}
		}
	}
	for id := range s.parsed {
		if _, ok := s.crls[id]; !ok {
			delete(s.parsed, id)
		}
	}
	for id, p := range s.profiles {
		p := p
		snap.profiles[s.arn("profile", id)] = &p
	}
	s.snap.Store(snap)
}

// parsedLocked returns the parsed form of c, parsing only when its bytes
// changed.
func (s *Server) parsedLocked(c CRL) *parsedCRL {
	sum := sha256.Sum256(c.Data)
	if pc := s.parsed[c.ID]; pc != nil && pc.sum == sum {
		return pc
	}
	list, err := parseCRL(c.Data)
	if err != nil {
		return nil
	}
	pc := &parsedCRL{sum: sum, list: list}
	s.parsed[c.ID] = pc
	return pc
}

// parseCRL accepts a CRL in DER or PEM ("X509 CRL").
func parseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, fmt.Errorf("crlData: PEM block %q, want X509 CRL", blk.Type)
		}
		b = blk.Bytes
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("crlData: %v", err)
	}
	return l, nil
}

// crlSigner returns the certificate among certs whose subject is the CRL's
// issuer and whose key verifies the CRL's signature, or nil.
func crlSigner(l *x509.RevocationList, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if string(c.RawSubject) == string(l.RawIssuer) && l.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

// parseBundle parses a PEM bundle of CA certificates.
func parseBundle(p string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(p)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("x509CertificateData: certificate %d: %v", len(out), err)
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("x509CertificateData: certificate %d (%s) is not a CA",
				len(out), c.Subject)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("x509CertificateData: no PEM CERTIFICATE block")
	}
	return out, nil
}

// Record writers used by the control plane, the followers and the
// declarative configuration: each writes through and rebuilds the snapshot.

func (s *Server) putTrustAnchor(ctx context.Context, ta TrustAnchor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.PutTrustAnchor(ctx, ta); err != nil {
		return err
	}
	s.anchors[ta.ID] = ta
	s.rebuildLocked()
	return nil
}

func (s *Server) putProfile(ctx context.Context, p Profile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.PutProfile(ctx, p); err != nil {
		return err
	}
	s.profiles[p.ID] = p
	s.rebuildLocked()
	return nil
}

func (s *Server) putCRL(ctx context.Context, c CRL) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.PutCRL(ctx, c); err != nil {
		return err
	}
	s.crls[c.ID] = c
	s.rebuildLocked()
	return nil
}

// CreateAdminKey makes a control-plane access key. The secret is returned
// once and stored only sealed.
func (s *Server) CreateAdminKey(ctx context.Context) (AccessKey, error) {
	k, err := createAdminKey(ctx, s.store, s.sealer, s.now())
	if err != nil {
		return k, err
	}
	s.adminMu.Lock()
	s.adminKeys[k.AccessKeyID] = k.SecretAccessKey
	s.adminMu.Unlock()
	return k, nil
}

// AccessKey is a newly created admin access key.
type AccessKey struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

func createAdminKey(ctx context.Context, st Store, sl *sealer, now time.Time) (AccessKey,
	error) {
	k := AccessKey{AccessKeyID: newAccessKeyID("AKIA"), SecretAccessKey: newSecret(30)}
	rec := AdminKey{AccessKeyID: k.AccessKeyID, CreatedAt: now.UTC(),
		SealedSecret: sl.seal(k.AccessKeyID, k.SecretAccessKey)}
	if err := st.PutAdminKey(ctx, rec); err != nil {
		return AccessKey{}, err
	}
	return k, nil
}

// adminSecret finds an admin key's secret, in memory or else in the store
// (a key made by "keys create" while the server runs).
func (s *Server) adminSecret(ctx context.Context, id string) (string, bool) {
	s.adminMu.RLock()
	sec, ok := s.adminKeys[id]
	s.adminMu.RUnlock()
	if ok {
		return sec, true
	}
	rec, err := s.store.AdminKey(ctx, id)
	if err != nil {
		return "", false
	}
	sec, err = s.sealer.open(id, rec.SealedSecret)
	if err != nil {
		s.log.Error("anywhere: admin key", "access_key_id", id, "err", err)
		return "", false
	}
	s.adminMu.Lock()
	s.adminKeys[id] = sec
	s.adminMu.Unlock()
	return sec, true
}
