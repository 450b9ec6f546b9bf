package anywhere

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Session duration bounds of the protocol, in seconds.
const (
	minDuration     = 900
	maxDuration     = 43200
	defaultDuration = 3600
)

// createSessionBody is the JSON body of CreateSession. Some clients send the
// ARNs here instead of in the query string; the query wins.
type createSessionBody struct {
	DurationSeconds *int    `json:"durationSeconds"`
	RoleSessionName *string `json:"roleSessionName"`
	ProfileArn      string  `json:"profileArn"`
	RoleArn         string  `json:"roleArn"`
	TrustAnchorArn  string  `json:"trustAnchorArn"`
}

// createSessionResult is what a successful CreateSession decided.
type createSessionResult struct {
	anchor   *anchorState
	profile  *Profile
	roleArn  string
	name     string
	duration time.Duration
	path     []*x509.Certificate
	tags     map[string]string
}

var roleSessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	body, err := readBody(r)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	leaf, err := parseLeaf(r)
	if err != nil {
		writeJSONError(w, denied("%v", err))
		return
	}
	res, err := s.decide(r, leaf, body, now)
	s.recordAttempt(leaf, now, err != nil)
	if err != nil {
		s.log.Info("anywhere: session refused", "serial", leaf.SerialNumber.Text(16),
			"subject", leaf.Subject.String(), "err", err)
		writeJSONError(w, err)
		return
	}
	out, err := s.issue(leaf, res, now)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	s.log.Debug("anywhere: session issued", "serial", leaf.SerialNumber.Text(16),
		"role", res.roleArn, "trust_anchor", res.anchor.anchor.ID)
	writeJSON(w, http.StatusCreated, out)
}

// decide runs every check of CreateSession in order: signature, parameters,
// trust anchor, certificate path, revocation, profile, role, duration, tags.
func (s *Server) decide(r *http.Request, leaf *x509.Certificate, body []byte,
	now time.Time) (*createSessionResult, error) {
	if _, err := verifyX509Signature(r, leaf, body, now); err != nil {
		return nil, denied("%v", err)
	}
	chain, err := parseChain(r, leaf)
	if err != nil {
		return nil, invalid("%v", err)
	}

	var in createSessionBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, invalid("request body: %v", err)
		}
	}
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *string
	}{{"profileArn", &in.ProfileArn}, {"roleArn", &in.RoleArn},
		{"trustAnchorArn", &in.TrustAnchorArn}} {
		if v := q.Get(p.name); v != "" {
			*p.dst = v
		}
	}
	if in.ProfileArn == "" {
		return nil, invalid("profileArn is required")
	}
	if in.RoleArn == "" {
		return nil, invalid("roleArn is required")
	}
	dur := defaultDuration
	if in.DurationSeconds != nil {
		dur = *in.DurationSeconds
		if dur < minDuration || dur > maxDuration {
			return nil, invalid("durationSeconds: %d is outside %d..%d", dur,
				minDuration, maxDuration)
		}
	}

	snap := s.snap.Load()
	res := &createSessionResult{roleArn: in.RoleArn}
	if err := checkEndEntity(leaf, now); err != nil {
		return nil, denied("%v", err)
	}
	if res.anchor, res.path, err = s.findPath(snap, in.TrustAnchorArn, leaf, chain,
		now); err != nil {
		return nil, err
	}
	for _, k := range revocationKeys(res.path) {
		if _, ok := res.anchor.revoked[k]; ok {
			return nil, denied("Certificate revoked")
		}
	}

	p := snap.profiles[in.ProfileArn]
	switch {
	case p == nil:
		return nil, notFound("profileArn: profile %s not found", in.ProfileArn)
	case !p.Enabled:
		return nil, denied("profile %s is disabled", p.ID)
	}
	res.profile = p
	allowed := false
	for _, ra := range p.RoleArns {
		allowed = allowed || ra == in.RoleArn
	}
	if !allowed {
		return nil, denied("roleArn: %s is not in profile %s", in.RoleArn, p.ID)
	}

	if in.RoleSessionName != nil {
		if !p.AcceptRoleSessionName {
			return nil, invalid("roleSessionName: profile %s does not accept it", p.ID)
		}
		if !roleSessionNameRE.MatchString(*in.RoleSessionName) {
			return nil, invalid("roleSessionName: must be 2-64 characters of " +
				"letters, digits and +=,.@_-")
		}
		res.name = *in.RoleSessionName
	} else {
		res.name = leaf.SerialNumber.Text(16)
	}

	if p.DurationSeconds > 0 && dur > p.DurationSeconds {
		dur = p.DurationSeconds
	}
	res.duration = time.Duration(dur) * time.Second
	if end := leaf.NotAfter; now.Add(res.duration).After(end) {
		res.duration = end.Sub(now)
	}

	res.tags = principalTags(leaf)
	if role, ok := s.roles[in.RoleArn]; ok {
		if err := checkConditions(role, res.tags); err != nil {
			return nil, denied("role %s: %v", in.RoleArn, err)
		}
	}
	return res, nil
}

// findPath picks the trust anchor (the named one, or else the first enabled
// one the certificate chains to) and validates the path.
func (s *Server) findPath(snap *snapshot, taArn string, leaf *x509.Certificate,
	chain []*x509.Certificate, now time.Time) (*anchorState, []*x509.Certificate, error) {
	if taArn != "" {
		ta := snap.anchorsByArn[taArn]
		if ta == nil {
			return nil, nil, notFound("trustAnchorArn: trust anchor %s not found", taArn)
		}
		if !ta.anchor.Enabled {
			return nil, nil, denied("trust anchor %s is disabled", ta.anchor.ID)
		}
		path, err := verifyPath(leaf, chain, ta, now)
		if err != nil {
			return nil, nil, denied("%v", err)
		}
		return ta, path, nil
	}
	for _, ta := range snap.anchorsByID {
		if !ta.anchor.Enabled {
			continue
		}
		if path, err := verifyPath(leaf, chain, ta, now); err == nil {
			return ta, path, nil
		}
	}
	return nil, nil, denied("certificate does not chain to any enabled trust anchor")
}

// Response shapes of CreateSession.
type (
	sessionOutput struct {
		CredentialSet []credentialSetItem `json:"credentialSet"`
		SubjectArn    string              `json:"subjectArn"`
	}
	credentialSetItem struct {
		AssumedRoleUser  assumedRoleUser    `json:"assumedRoleUser"`
		Credentials      sessionCredentials `json:"credentials"`
		PackedPolicySize int                `json:"packedPolicySize"`
		RoleArn          string             `json:"roleArn"`
		SourceIdentity   string             `json:"sourceIdentity"`
	}
	assumedRoleUser struct {
		Arn           string `json:"arn"`
		AssumedRoleID string `json:"assumedRoleId"`
	}
	sessionCredentials struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
		Expiration      string `json:"expiration"`
	}
)

// issue makes the session credentials, keeps them in memory, queues them for
// the store and renders the 201 body.
func (s *Server) issue(leaf *x509.Certificate, res *createSessionResult,
	now time.Time) (*sessionOutput, error) {
	account, roleName := roleParts(res.roleArn, s.acct)
	roleID := roleID(res.roleArn)
	akid := newAccessKeyID("ASIA")
	secret := newSecret(30)
	token := newSecret(96)
	tokenSum := sha256.Sum256([]byte(token))
	exp := now.Add(res.duration).UTC().Truncate(time.Second)

	var keys [][]byte
	for _, k := range revocationKeys(res.path) {
		keys = append(keys, []byte(k))
	}
	sess := Session{
		AccessKeyID:    akid,
		SealedSecret:   s.sealer.seal(akid, secret),
		TokenHash:      tokenSum[:],
		Expiration:     exp,
		RoleArn:        res.roleArn,
		AssumedRoleArn: "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + res.name,
		AssumedRoleID:  roleID + ":" + res.name,
		Account:        account,
		SourceIdentity: "CN=" + leaf.Subject.CommonName,
		TrustAnchorID:  res.anchor.anchor.ID,
		RevocationKeys: keys,
		PrincipalTags:  res.tags,
		CreatedAt:      now.UTC(),
	}
	s.sessMu.Lock()
	s.pending[akid] = &liveSession{Session: sess, secret: secret}
	s.pendingSessions = append(s.pendingSessions, sess)
	s.sessMu.Unlock()

	s.subjMu.Lock()
	subID := s.subjects[leaf.Subject.String()].ID
	s.subjMu.Unlock()

	return &sessionOutput{
		CredentialSet: []credentialSetItem{{
			AssumedRoleUser: assumedRoleUser{Arn: sess.AssumedRoleArn,
				AssumedRoleID: sess.AssumedRoleID},
			Credentials: sessionCredentials{AccessKeyID: akid, SecretAccessKey: secret,
				SessionToken: token, Expiration: exp.Format(time.RFC3339)},
			RoleArn:        res.roleArn,
			SourceIdentity: sess.SourceIdentity,
		}},
		SubjectArn: s.arn("subject", subID),
	}, nil
}

// roleParts splits arn:aws:iam::<account>:role/<path>/<name> into the
// account and the role name, falling back to def for the account.
func roleParts(roleArn, def string) (account, name string) {
	parts := strings.SplitN(roleArn, ":", 6)
	account = def
	if len(parts) == 6 {
		if parts[4] != "" {
			account = parts[4]
		}
		name = parts[5]
	} else {
		name = roleArn
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return account, name
}

// roleID derives a stable role id (AROA + 17 characters) from the role ARN.
func roleID(roleArn string) string {
	sum := sha256.Sum256([]byte(roleArn))
	return "AROA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// maxSubjects bounds the subjects that failed attempts may create.
const maxSubjects = 100000

// maxCredentialsPerSubject bounds the certificates remembered per subject;
// the least recently seen is dropped first.
const maxCredentialsPerSubject = 32

// recordAttempt notes a CreateSession attempt on the certificate's subject.
// It only touches memory; the writer persists the subject in its next batch.
func (s *Server) recordAttempt(leaf *x509.Certificate, now time.Time, failed bool) {
	dn := leaf.Subject.String()
	serial := leaf.SerialNumber.Text(16)
	issuer := leaf.Issuer.String()
	now = now.UTC()

	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	sub := s.subjects[dn]
	if sub == nil && failed && len(s.subjects) >= maxSubjects {
		return // a flood of bogus certificates must not exhaust memory
	}
	if sub == nil {
		sub = &Subject{ID: newUUID(), X509Subject: dn, Enabled: true, CreatedAt: now}
		s.subjects[dn] = sub
		s.subjectsByID[sub.ID] = sub
	}
	sub.LastSeenAt, sub.UpdatedAt = now, now
	s.dirtySubjects[dn] = true
	for i := range sub.Credentials {
		c := &sub.Credentials[i]
		if c.SerialNumber == serial && c.Issuer == issuer {
			c.SeenAt, c.Failed = now, failed
			return
		}
	}
	if len(sub.Credentials) >= maxCredentialsPerSubject {
		oldest := 0
		for i, c := range sub.Credentials {
			if c.SeenAt.Before(sub.Credentials[oldest].SeenAt) {
				oldest = i
			}
		}
		sub.Credentials = append(sub.Credentials[:oldest], sub.Credentials[oldest+1:]...)
	}
	sub.Credentials = append(sub.Credentials, SubjectCredential{
		SeenAt: now, SerialNumber: serial, Issuer: issuer, Enabled: true, Failed: failed,
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
			Bytes: leaf.Raw})),
	})
}

var errNoSession = errors.New("no such session")
