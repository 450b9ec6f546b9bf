package anywhere

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type stsError struct {
	status int
	code   string
	msg    string
}

func (e *stsError) Error() string { return e.code + ": " + e.msg }

func writeSTSError(w http.ResponseWriter, e *stsError) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Xmlns     string    `xml:"xmlns,attr"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(errorResponse{Xmlns: stsNamespace,
		Error:     errorBody{Type: "Sender", Code: e.code, Message: e.msg},
		RequestID: newUUID()})
}

// handleSTS serves the STS query protocol; only GetCallerIdentity is
// implemented.
func (s *Server) handleSTS(w http.ResponseWriter, r *http.Request, a authHeader) {
	body, err := readBody(r)
	if err != nil {
		writeSTSError(w, &stsError{400, "InvalidRequest", err.Error()})
		return
	}
	sess, serr := s.authenticateSession(r.Context(), r, a, body)
	if serr != nil {
		writeSTSError(w, serr)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeSTSError(w, &stsError{400, "MalformedInput", "body is not form-encoded"})
		return
	}
	for k, v := range r.URL.Query() {
		if form.Get(k) == "" {
			form[k] = v
		}
	}
	if act := form.Get("Action"); act != "GetCallerIdentity" {
		writeSTSError(w, &stsError{400, "InvalidAction",
			"Action " + act + " is not supported; only GetCallerIdentity is"})
		return
	}

	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName  xml.Name `xml:"GetCallerIdentityResponse"`
		Xmlns    string   `xml:"xmlns,attr"`
		Result   result   `xml:"GetCallerIdentityResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}
	out := response{Xmlns: stsNamespace, Result: result{Arn: sess.AssumedRoleArn,
		UserID: sess.AssumedRoleID, Account: sess.Account}}
	out.Metadata.RequestID = newUUID()
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(out)
}

// authenticateSession verifies a SigV4 request made with session
// credentials: the key exists and has not expired, the token matches, the
// signature verifies, and no certificate of the session's path has been
// revoked since issue.
func (s *Server) authenticateSession(ctx context.Context, r *http.Request, a authHeader,
	body []byte) (*liveSession, *stsError) {
	now := s.now()
	if _, err := checkDate(r.Header.Get("X-Amz-Date"), a, now); err != nil {
		return nil, &stsError{403, "SignatureDoesNotMatch", err.Error()}
	}
	sess, err := s.lookupSession(ctx, a.Credential)
	if err != nil {
		return nil, &stsError{403, "InvalidClientTokenId",
			"The security token included in the request is invalid."}
	}
	tok := r.Header.Get("X-Amz-Security-Token")
	sum := sha256.Sum256([]byte(tok))
	if tok == "" || subtle.ConstantTimeCompare(sum[:], sess.TokenHash) != 1 {
		return nil, &stsError{403, "InvalidClientTokenId",
			"The security token included in the request is invalid."}
	}
	if err := requireSigned(a.SignedHeaders, "x-amz-security-token"); err != nil {
		return nil, &stsError{403, "IncompleteSignature", err.Error()}
	}
	if err := verifyHMAC(r, a, body, sess.secret); err != nil {
		return nil, &stsError{403, "SignatureDoesNotMatch", err.Error()}
	}
	if now.After(sess.Expiration) {
		return nil, &stsError{403, "ExpiredToken",
			"The security token included in the request is expired"}
	}
	ta := s.snap.Load().anchorsByID[sess.TrustAnchorID]
	if ta == nil || !ta.anchor.Enabled {
		return nil, &stsError{403, "AccessDenied",
			"the session's trust anchor is gone or disabled"}
	}
	for _, k := range sess.RevocationKeys {
		if _, ok := ta.revoked[string(k)]; ok {
			return nil, &stsError{403, "AccessDenied", "Certificate revoked"}
		}
	}
	return sess, nil
}

// maxCachedSessions bounds the sessions kept in memory after use.
const maxCachedSessions = 50000

// lookupSession finds a session in memory, or else in the store (issued
// before a restart).
func (s *Server) lookupSession(ctx context.Context, id string) (*liveSession, error) {
	s.sessMu.RLock()
	ls := s.pending[id]
	if ls == nil {
		ls = s.sessionCache[id]
	}
	s.sessMu.RUnlock()
	if ls != nil {
		return ls, nil
	}
	rec, err := s.store.Session(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	sec, err := s.sealer.open(id, rec.SealedSecret)
	if err != nil {
		return nil, err
	}
	ls = &liveSession{Session: rec, secret: sec}
	s.sessMu.Lock()
	if len(s.sessionCache) >= maxCachedSessions {
		for k := range s.sessionCache { // evict an arbitrary tenth
			delete(s.sessionCache, k)
			if len(s.sessionCache) < maxCachedSessions*9/10 {
				break
			}
		}
	}
	s.sessionCache[id] = ls
	s.sessMu.Unlock()
	return ls, nil
}
