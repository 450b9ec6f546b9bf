package anywhere

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxCRLData is the largest CRL file ImportCrl and UpdateCrl accept.
const maxCRLData = 300000

// route is one control-plane operation, matched against the trailing path
// segments; "{id}" matches any segment.
type route struct {
	method  string
	pattern []string
	handle  func(s *Server, ctx context.Context, id string, q url.Values,
		body []byte) (int, any, error)
}

var routes = []route{
	{"POST", []string{"trustanchor", "{id}", "enable"}, enableAnchor(true)},
	{"POST", []string{"trustanchor", "{id}", "disable"}, enableAnchor(false)},
	{"POST", []string{"profile", "{id}", "enable"}, enableProfile(true)},
	{"POST", []string{"profile", "{id}", "disable"}, enableProfile(false)},
	{"POST", []string{"crl", "{id}", "enable"}, enableCRL(true)},
	{"POST", []string{"crl", "{id}", "disable"}, enableCRL(false)},
	{"GET", []string{"trustanchor", "{id}"}, (*Server).getAnchor},
	{"DELETE", []string{"trustanchor", "{id}"}, (*Server).deleteAnchor},
	{"PATCH", []string{"trustanchor", "{id}"}, (*Server).updateAnchor},
	{"GET", []string{"profile", "{id}"}, (*Server).getProfile},
	{"DELETE", []string{"profile", "{id}"}, (*Server).deleteProfile},
	{"PATCH", []string{"profile", "{id}"}, (*Server).updateProfile},
	{"GET", []string{"crl", "{id}"}, (*Server).getCRL},
	{"DELETE", []string{"crl", "{id}"}, (*Server).deleteCRL},
	{"PATCH", []string{"crl", "{id}"}, (*Server).updateCRL},
	{"GET", []string{"subject", "{id}"}, (*Server).getSubject},
	{"POST", []string{"trustanchors"}, (*Server).createAnchor},
	{"GET", []string{"trustanchors"}, (*Server).listAnchors},
	{"POST", []string{"profiles"}, (*Server).createProfile},
	{"GET", []string{"profiles"}, (*Server).listProfiles},
	{"POST", []string{"crls"}, (*Server).importCRL},
	{"GET", []string{"crls"}, (*Server).listCRLs},
	{"GET", []string{"subjects"}, (*Server).listSubjects},
}

// matchRoute finds the operation whose pattern equals the last segments of
// the path, longest patterns first (the table is ordered that way).
func matchRoute(method, p string) (*route, string, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	pathKnown := false
	for i := range routes {
		rt := &routes[i]
		if len(rt.pattern) > len(segs) {
			continue
		}
		tail := segs[len(segs)-len(rt.pattern):]
		id, ok := "", true
		for j, want := range rt.pattern {
			if want == "{id}" {
				id = tail[j]
			} else if tail[j] != want {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, id, true
		}
		pathKnown = true
	}
	return nil, "", pathKnown
}

// handleControl authenticates an admin request and runs the operation.
func (s *Server) handleControl(w http.ResponseWriter, r *http.Request, a authHeader) {
	body, err := readBody(r)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	if _, err := checkDate(r.Header.Get("X-Amz-Date"), a, s.now()); err != nil {
		writeJSONError(w, denied("%v", err))
		return
	}
	secret, ok := s.adminSecret(r.Context(), a.Credential)
	if !ok {
		writeJSONError(w, denied("unknown access key %s", a.Credential))
		return
	}
	if err := verifyHMAC(r, a, body, secret); err != nil {
		writeJSONError(w, denied("%v", err))
		return
	}

	rt, id, known := matchRoute(r.Method, r.URL.Path)
	if rt == nil {
		if known {
			writeJSONError(w, &apiError{http.StatusMethodNotAllowed, codeValidation,
				"method " + r.Method + " not allowed on " + r.URL.Path})
			return
		}
		writeJSONError(w, notFound("no operation at %s %s", r.Method, r.URL.Path))
		return
	}
	if strings.HasPrefix(id, "arn:") {
		id = id[strings.LastIndexByte(id, '/')+1:]
	}
	status, out, err := rt.handle(s, r.Context(), id, r.URL.Query(), body)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	s.log.Info("anywhere: control", "method", r.Method, "path", r.URL.Path,
		"access_key_id", a.Credential, "status", status)
	writeJSON(w, status, out)
}

// decodeStrict decodes a JSON body, rejecting unknown fields.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return invalid("request body: %v", err)
	}
	return nil
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Wire shapes of the control plane.
type (
	sourceData struct {
		X509CertificateData string `json:"x509CertificateData,omitempty"`
		AcmPcaArn           string `json:"acmPcaArn,omitempty"`
	}
	source struct {
		SourceType string     `json:"sourceType"`
		SourceData sourceData `json:"sourceData"`
	}
	trustAnchorDetail struct {
		TrustAnchorID  string `json:"trustAnchorId"`
		TrustAnchorArn string `json:"trustAnchorArn"`
		Name           string `json:"name"`
		Source         source `json:"source"`
		Enabled        bool   `json:"enabled"`
		CreatedAt      string `json:"createdAt"`
		UpdatedAt      string `json:"updatedAt"`
	}
	profileDetail struct {
		ProfileID             string   `json:"profileId"`
		ProfileArn            string   `json:"profileArn"`
		Name                  string   `json:"name"`
		RoleArns              []string `json:"roleArns"`
		DurationSeconds       int      `json:"durationSeconds"`
		Enabled               bool     `json:"enabled"`
		AcceptRoleSessionName bool     `json:"acceptRoleSessionName"`
		CreatedAt             string   `json:"createdAt"`
		UpdatedAt             string   `json:"updatedAt"`
	}
	crlDetail struct {
		CrlID          string `json:"crlId"`
		CrlArn         string `json:"crlArn"`
		Name           string `json:"name"`
		Enabled        bool   `json:"enabled"`
		CrlData        []byte `json:"crlData"`
		TrustAnchorArn string `json:"trustAnchorArn"`
		CreatedAt      string `json:"createdAt"`
		UpdatedAt      string `json:"updatedAt"`
	}
	subjectSummary struct {
		SubjectArn  string `json:"subjectArn"`
		SubjectID   string `json:"subjectId"`
		Enabled     bool   `json:"enabled"`
		X509Subject string `json:"x509Subject"`
		LastSeenAt  string `json:"lastSeenAt"`
		CreatedAt   string `json:"createdAt"`
		UpdatedAt   string `json:"updatedAt"`
	}
	credentialSummary struct {
		SeenAt              string `json:"seenAt"`
		SerialNumber        string `json:"serialNumber"`
		Issuer              string `json:"issuer"`
		Enabled             bool   `json:"enabled"`
		X509CertificateData string `json:"x509CertificateData"`
		Failed              bool   `json:"failed"`
	}
	subjectDetail struct {
		subjectSummary
		Credentials        []credentialSummary `json:"credentials"`
		InstanceProperties []any               `json:"instanceProperties"`
	}
)

func (s *Server) anchorDetail(ta TrustAnchor) trustAnchorDetail {
	return trustAnchorDetail{
		TrustAnchorID: ta.ID, TrustAnchorArn: s.arn("trust-anchor", ta.ID), Name: ta.Name,
		Source: source{SourceType: "CERTIFICATE_BUNDLE",
			SourceData: sourceData{X509CertificateData: ta.CertificatesPEM}},
		Enabled: ta.Enabled, CreatedAt: isoTime(ta.CreatedAt), UpdatedAt: isoTime(ta.UpdatedAt),
	}
}

func (s *Server) profileDetail(p Profile) profileDetail {
	roles := p.RoleArns
	if roles == nil {
		roles = []string{}
	}
	return profileDetail{
		ProfileID: p.ID, ProfileArn: s.arn("profile", p.ID), Name: p.Name, RoleArns: roles,
		DurationSeconds: p.DurationSeconds, Enabled: p.Enabled,
		AcceptRoleSessionName: p.AcceptRoleSessionName,
		CreatedAt:             isoTime(p.CreatedAt), UpdatedAt: isoTime(p.UpdatedAt),
	}
}

func (s *Server) crlDetail(c CRL) crlDetail {
	return crlDetail{
		CrlID: c.ID, CrlArn: s.arn("crl", c.ID), Name: c.Name, Enabled: c.Enabled,
		CrlData: c.Data, TrustAnchorArn: s.arn("trust-anchor", c.TrustAnchorID),
		CreatedAt: isoTime(c.CreatedAt), UpdatedAt: isoTime(c.UpdatedAt),
	}
}

func (s *Server) subjectSummary(sub *Subject) subjectSummary {
	return subjectSummary{
		SubjectArn: s.arn("subject", sub.ID), SubjectID: sub.ID, Enabled: sub.Enabled,
		X509Subject: sub.X509Subject, LastSeenAt: isoTime(sub.LastSeenAt),
		CreatedAt: isoTime(sub.CreatedAt), UpdatedAt: isoTime(sub.UpdatedAt),
	}
}

func checkName(name string) error {
	if name == "" || len(name) > 255 {
		return invalid("name: required, at most 255 characters")
	}
	return nil
}

// Trust anchors.

type anchorInput struct {
	Name    *string `json:"name"`
	Enabled *bool   `json:"enabled"`
	Source  *struct {
		SourceType string     `json:"sourceType"`
		SourceData sourceData `json:"sourceData"`
	} `json:"source"`
	Tags                   json.RawMessage `json:"tags"`
	NotificationSettings   json.RawMessage `json:"notificationSettings"`
	CrlDpRevocationEnabled *bool           `json:"crlDpRevocationEnabled"`
}

// bundleFromSource validates a trust anchor source and returns its PEM.
func bundleFromSource(in *anchorInput) (string, error) {
	if in.Source == nil {
		return "", invalid("source: required")
	}
	if in.Source.SourceType != "CERTIFICATE_BUNDLE" {
		return "", invalid("source.sourceType: %q is not supported; use CERTIFICATE_BUNDLE",
			in.Source.SourceType)
	}
	p := in.Source.SourceData.X509CertificateData
	if _, err := parseBundle(p); err != nil {
		return "", invalid("source.sourceData.%v", err)
	}
	return p, nil
}

func (s *Server) createAnchor(ctx context.Context, _ string, _ url.Values,
	body []byte) (int, any, error) {
	var in anchorInput
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	if in.Name == nil {
		return 0, nil, invalid("name: required")
	}
	if err := checkName(*in.Name); err != nil {
		return 0, nil, err
	}
	bundle, err := bundleFromSource(&in)
	if err != nil {
		return 0, nil, err
	}
	now := s.now().UTC()
	ta := TrustAnchor{ID: newUUID(), Name: *in.Name, Enabled: boolOr(in.Enabled, false),
		CertificatesPEM: bundle, CreatedAt: now, UpdatedAt: now}
	if err := s.putTrustAnchor(ctx, ta); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"trustAnchor": s.anchorDetail(ta)}, nil
}

func (s *Server) anchorByID(id string) (TrustAnchor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ta, ok := s.anchors[id]
	if !ok {
		return ta, notFound("trustAnchorId: trust anchor %s not found", id)
	}
	return ta, nil
}

func (s *Server) getAnchor(_ context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	ta, err := s.anchorByID(id)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"trustAnchor": s.anchorDetail(ta)}, nil
}

func (s *Server) updateAnchor(ctx context.Context, id string, _ url.Values,
	body []byte) (int, any, error) {
	var in anchorInput
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	ta, err := s.anchorByID(id)
	if err != nil {
		return 0, nil, err
	}
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return 0, nil, err
		}
		ta.Name = *in.Name
	}
	if in.Source != nil {
		if ta.CertificatesPEM, err = bundleFromSource(&in); err != nil {
			return 0, nil, err
		}
	}
	ta.UpdatedAt = s.now().UTC()
	if err := s.putTrustAnchor(ctx, ta); err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"trustAnchor": s.anchorDetail(ta)}, nil
}

func enableAnchor(on bool) func(*Server, context.Context, string, url.Values,
	[]byte) (int, any, error) {
	return func(s *Server, ctx context.Context, id string, _ url.Values,
		_ []byte) (int, any, error) {
		ta, err := s.anchorByID(id)
		if err != nil {
			return 0, nil, err
		}
		ta.Enabled, ta.UpdatedAt = on, s.now().UTC()
		if err := s.putTrustAnchor(ctx, ta); err != nil {
			return 0, nil, err
		}
		return 200, map[string]any{"trustAnchor": s.anchorDetail(ta)}, nil
	}
}

// deleteAnchor removes the trust anchor and the CRLs attached to it.
func (s *Server) deleteAnchor(ctx context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ta, ok := s.anchors[id]
	if !ok {
		return 0, nil, notFound("trustAnchorId: trust anchor %s not found", id)
	}
	for cid, c := range s.crls {
		if c.TrustAnchorID == id {
			if err := s.store.DeleteCRL(ctx, cid); err != nil &&
				!errors.Is(err, ErrNotFound) {
				return 0, nil, err
			}
			delete(s.crls, cid)
		}
	}
	if err := s.store.DeleteTrustAnchor(ctx, id); err != nil &&
		!errors.Is(err, ErrNotFound) {
		return 0, nil, err
	}
	delete(s.anchors, id)
	s.rebuildLocked()
	return 200, map[string]any{"trustAnchor": s.anchorDetail(ta)}, nil
}

// Profiles.

type profileInput struct {
	Name                      *string         `json:"name"`
	RoleArns                  []string        `json:"roleArns"`
	DurationSeconds           *int            `json:"durationSeconds"`
	Enabled                   *bool           `json:"enabled"`
	AcceptRoleSessionName     *bool           `json:"acceptRoleSessionName"`
	ManagedPolicyArns         []string        `json:"managedPolicyArns"`
	SessionPolicy             *string         `json:"sessionPolicy"`
	RequireInstanceProperties *bool           `json:"requireInstanceProperties"`
	Tags                      json.RawMessage `json:"tags"`
}

// apply copies the fields that are set onto p, validating them.
func (in *profileInput) apply(p *Profile) error {
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return err
		}
		p.Name = *in.Name
	}
	if in.RoleArns != nil {
		if len(in.RoleArns) > 250 {
			return invalid("roleArns: at most 250 roles")
		}
		for i, ra := range in.RoleArns {
			if !strings.HasPrefix(ra, "arn:") || !strings.Contains(ra, ":role/") {
				return invalid("roleArns[%d]: %q is not a role ARN", i, ra)
			}
		}
		p.RoleArns = append([]string(nil), in.RoleArns...)
	}
	if in.DurationSeconds != nil {
		d := *in.DurationSeconds
		if d < minDuration || d > maxDuration {
			return invalid("durationSeconds: %d is outside %d..%d", d, minDuration,
				maxDuration)
		}
		p.DurationSeconds = d
	}
	if in.AcceptRoleSessionName != nil {
		p.AcceptRoleSessionName = *in.AcceptRoleSessionName
	}
	if in.RequireInstanceProperties != nil && *in.RequireInstanceProperties {
		return invalid("requireInstanceProperties: not supported")
	}
	return nil
}

func (s *Server) createProfile(ctx context.Context, _ string, _ url.Values,
	body []byte) (int, any, error) {
	var in profileInput
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	if in.Name == nil {
		return 0, nil, invalid("name: required")
	}
	now := s.now().UTC()
	p := Profile{ID: newUUID(), DurationSeconds: defaultDuration,
		Enabled: boolOr(in.Enabled, false), CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&p); err != nil {
		return 0, nil, err
	}
	if len(p.RoleArns) == 0 {
		return 0, nil, invalid("roleArns: at least one role is required")
	}
	if err := s.putProfile(ctx, p); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"profile": s.profileDetail(p)}, nil
}

func (s *Server) profileByID(id string) (Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return p, notFound("profileId: profile %s not found", id)
	}
	return p, nil
}

func (s *Server) getProfile(_ context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	p, err := s.profileByID(id)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"profile": s.profileDetail(p)}, nil
}

func (s *Server) updateProfile(ctx context.Context, id string, _ url.Values,
	body []byte) (int, any, error) {
	var in profileInput
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	p, err := s.profileByID(id)
	if err != nil {
		return 0, nil, err
	}
	if err := in.apply(&p); err != nil {
		return 0, nil, err
	}
	p.UpdatedAt = s.now().UTC()
	if err := s.putProfile(ctx, p); err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"profile": s.profileDetail(p)}, nil
}

func enableProfile(on bool) func(*Server, context.Context, string, url.Values,
	[]byte) (int, any, error) {
	return func(s *Server, ctx context.Context, id string, _ url.Values,
		_ []byte) (int, any, error) {
		p, err := s.profileByID(id)
		if err != nil {
			return 0, nil, err
		}
		p.Enabled, p.UpdatedAt = on, s.now().UTC()
		if err := s.putProfile(ctx, p); err != nil {
			return 0, nil, err
		}
		return 200, map[string]any{"profile": s.profileDetail(p)}, nil
	}
}

func (s *Server) deleteProfile(ctx context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return 0, nil, notFound("profileId: profile %s not found", id)
	}
	if err := s.store.DeleteProfile(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return 0, nil, err
	}
	delete(s.profiles, id)
	s.rebuildLocked()
	return 200, map[string]any{"profile": s.profileDetail(p)}, nil
}

// CRLs.

type crlInput struct {
	Name           *string         `json:"name"`
	CrlData        []byte          `json:"crlData"`
	TrustAnchorArn *string         `json:"trustAnchorArn"`
	Enabled        *bool           `json:"enabled"`
	Tags           json.RawMessage `json:"tags"`
}

// validateCRL checks size, syntax and that the CRL is signed by a
// certificate of the trust anchor.
func (s *Server) validateCRL(data []byte, taID string) error {
	if len(data) == 0 {
		return invalid("crlData: required")
	}
	if len(data) > maxCRLData {
		return invalid("crlData: %d bytes, at most %d", len(data), maxCRLData)
	}
	list, err := parseCRL(data)
	if err != nil {
		return invalid("%v", err)
	}
	ta := s.snap.Load().anchorsByID[taID]
	if ta == nil {
		return notFound("trustAnchorArn: trust anchor %s not found", taID)
	}
	if crlSigner(list, ta.certs) == nil {
		return invalid("crlData: the CRL's issuer and signature match no certificate "+
			"of trust anchor %s", taID)
	}
	return nil
}

func (s *Server) importCRL(ctx context.Context, _ string, _ url.Values,
	body []byte) (int, any, error) {
	var in crlInput
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	if in.Name == nil {
		return 0, nil, invalid("name: required")
	}
	if err := checkName(*in.Name); err != nil {
		return 0, nil, err
	}
	if in.TrustAnchorArn == nil || *in.TrustAnchorArn == "" {
		return 0, nil, invalid("trustAnchorArn: required")
	}
	taArn := *in.TrustAnchorArn
	taID := taArn[strings.LastIndexByte(taArn, '/')+1:]
	if taArn != s.arn("trust-anchor", taID) {
		return 0, nil, notFound("trustAnchorArn: trust anchor %s not found", taArn)
	}
	if err := s.validateCRL(in.CrlData, taID); err != nil {
		return 0, nil, err
	}
	now := s.now().UTC()
	c := CRL{ID: newUUID(), Name: *in.Name, TrustAnchorID: taID,
		Enabled: boolOr(in.Enabled, false), Data: in.CrlData, CreatedAt: now, UpdatedAt: now}
	if err := s.putCRL(ctx, c); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"crl": s.crlDetail(c)}, nil
}

func (s *Server) crlByID(id string) (CRL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.crls[id]
	if !ok {
		return c, notFound("crlId: CRL %s not found", id)
	}
	return c, nil
}

func (s *Server) getCRL(_ context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	c, err := s.crlByID(id)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"crl": s.crlDetail(c)}, nil
}

func (s *Server) updateCRL(ctx context.Context, id string, _ url.Values,
	body []byte) (int, any, error) {
	var in struct {
		Name    *string `json:"name"`
		CrlData []byte  `json:"crlData"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.crlByID(id)
	if err != nil {
		return 0, nil, err
	}
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return 0, nil, err
		}
		c.Name = *in.Name
	}
	if in.CrlData != nil {
		if err := s.validateCRL(in.CrlData, c.TrustAnchorID); err != nil {
			return 0, nil, err
		}
		c.Data = in.CrlData
	}
	c.UpdatedAt = s.now().UTC()
	if err := s.putCRL(ctx, c); err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"crl": s.crlDetail(c)}, nil
}

func enableCRL(on bool) func(*Server, context.Context, string, url.Values,
	[]byte) (int, any, error) {
	return func(s *Server, ctx context.Context, id string, _ url.Values,
		_ []byte) (int, any, error) {
		c, err := s.crlByID(id)
		if err != nil {
			return 0, nil, err
		}
		c.Enabled, c.UpdatedAt = on, s.now().UTC()
		if err := s.putCRL(ctx, c); err != nil {
			return 0, nil, err
		}
		return 200, map[string]any{"crl": s.crlDetail(c)}, nil
	}
}

func (s *Server) deleteCRL(ctx context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.crls[id]
	if !ok {
		return 0, nil, notFound("crlId: CRL %s not found", id)
	}
	if err := s.store.DeleteCRL(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return 0, nil, err
	}
	delete(s.crls, id)
	s.rebuildLocked()
	return 200, map[string]any{"crl": s.crlDetail(c)}, nil
}

// Subjects.

func (s *Server) getSubject(_ context.Context, id string, _ url.Values,
	_ []byte) (int, any, error) {
	s.subjMu.Lock()
	defer s.subjMu.Unlock()
	sub, ok := s.subjectsByID[id]
	if !ok {
		return 0, nil, notFound("subjectId: subject %s not found", id)
	}
	d := subjectDetail{subjectSummary: s.subjectSummary(sub),
		Credentials: []credentialSummary{}, InstanceProperties: []any{}}
	for _, c := range sub.Credentials {
		d.Credentials = append(d.Credentials, credentialSummary{
			SeenAt: isoTime(c.SeenAt), SerialNumber: c.SerialNumber, Issuer: c.Issuer,
			Enabled: c.Enabled, X509CertificateData: c.CertificatePEM, Failed: c.Failed,
		})
	}
	return 200, map[string]any{"subject": d}, nil
}

// Listing with paging. Items are ordered by (createdAt, id); nextToken
// encodes the last item returned.

type pageKey struct {
	created time.Time
	id      string
}

func (k pageKey) less(o pageKey) bool {
	if !k.created.Equal(o.created) {
		return k.created.Before(o.created)
	}
	return k.id < o.id
}

func (k pageKey) token() string {
	return base64.RawURLEncoding.EncodeToString(
		[]byte(strconv.FormatInt(k.created.UnixNano(), 10) + "/" + k.id))
}

func parseToken(t string) (pageKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return pageKey{}, invalid("nextToken: malformed")
	}
	ns, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return pageKey{}, invalid("nextToken: malformed")
	}
	return pageKey{time.Unix(0, n), id}, nil
}

// page sorts items and returns the page after q's nextToken, of at most
// pageSize (or maxResults) items, and the token for the next page.
func page[T any](items []T, key func(T) pageKey, q url.Values) ([]T, *string, error) {
	size := 50
	for _, name := range []string{"pageSize", "maxResults"} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return nil, nil, invalid("%s: must be 1..1000", name)
			}
			size = n
		}
	}
	sort.Slice(items, func(i, j int) bool { return key(items[i]).less(key(items[j])) })
	start := 0
	if t := q.Get("nextToken"); t != "" {
		after, err := parseToken(t)
		if err != nil {
			return nil, nil, err
		}
		start = sort.Search(len(items), func(i int) bool { return after.less(key(items[i])) })
	}
	end := min(start+size, len(items))
	out := items[start:end]
	if end < len(items) {
		tok := key(items[end-1]).token()
		return out, &tok, nil
	}
	return out, nil, nil
}

func (s *Server) listAnchors(_ context.Context, _ string, q url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	var all []TrustAnchor
	for _, ta := range s.anchors {
		all = append(all, ta)
	}
	s.mu.Unlock()
	pg, next, err := page(all, func(t TrustAnchor) pageKey {
		return pageKey{t.CreatedAt, t.ID}
	}, q)
	if err != nil {
		return 0, nil, err
	}
	out := []trustAnchorDetail{}
	for _, ta := range pg {
		out = append(out, s.anchorDetail(ta))
	}
	return 200, map[string]any{"trustAnchors": out, "nextToken": next}, nil
}

func (s *Server) listProfiles(_ context.Context, _ string, q url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	var all []Profile
	for _, p := range s.profiles {
		all = append(all, p)
	}
	s.mu.Unlock()
	pg, next, err := page(all, func(p Profile) pageKey { return pageKey{p.CreatedAt, p.ID} }, q)
	if err != nil {
		return 0, nil, err
	}
	out := []profileDetail{}
	for _, p := range pg {
		out = append(out, s.profileDetail(p))
	}
	return 200, map[string]any{"profiles": out, "nextToken": next}, nil
}

func (s *Server) listCRLs(_ context.Context, _ string, q url.Values,
	_ []byte) (int, any, error) {
	s.mu.Lock()
	var all []CRL
	for _, c := range s.crls {
		all = append(all, c)
	}
	s.mu.Unlock()
	pg, next, err := page(all, func(c CRL) pageKey { return pageKey{c.CreatedAt, c.ID} }, q)
	if err != nil {
		return 0, nil, err
	}
	out := []crlDetail{}
	for _, c := range pg {
		out = append(out, s.crlDetail(c))
	}
	return 200, map[string]any{"crls": out, "nextToken": next}, nil
}

func (s *Server) listSubjects(_ context.Context, _ string, q url.Values,
	_ []byte) (int, any, error) {
	s.subjMu.Lock()
	var all []subjectSummary
	var keys = map[string]pageKey{}
	for _, sub := range s.subjectsByID {
		sum := s.subjectSummary(sub)
		all = append(all, sum)
		keys[sub.ID] = pageKey{sub.CreatedAt, sub.ID}
	}
	s.subjMu.Unlock()
	pg, next, err := page(all, func(v subjectSummary) pageKey { return keys[v.SubjectID] }, q)
	if err != nil {
		return 0, nil, err
	}
	if pg == nil {
		pg = []subjectSummary{}
	}
	return 200, map[string]any{"subjects": pg, "nextToken": next}, nil
}
