package anywhere

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error codes of the Roles Anywhere JSON protocol.
const (
	codeAccessDenied = "AccessDeniedException"
	codeValidation   = "ValidationException"
	codeNotFound     = "ResourceNotFoundException"
)

// maxBody caps every request body; a CRL of 300,000 bytes grows to 400,000 in
// base64.
const maxBody = 512 << 10

// apiError is an error with its HTTP status and protocol error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func denied(format string, a ...any) *apiError {
	return &apiError{http.StatusForbidden, codeAccessDenied, fmt.Sprintf(format, a...)}
}

func invalid(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeValidation, fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) *apiError {
	return &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf(format, a...)}
}

// writeJSONError writes err in the REST JSON error shape: X-Amzn-ErrorType
// and {"message": ...}. Errors other than *apiError become 500s without
// detail.
func writeJSONError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, "InternalServerException",
			"internal error"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(map[string]string{"message": ae.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readBody reads at most maxBody bytes of the request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, invalid("cannot read the request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, invalid("request body larger than %d bytes", maxBody)
	}
	return b, nil
}

// Handler returns the http.Handler serving CreateSession, the control plane
// and STS. It dispatches on the Authorization scheme and the credential
// scope's service, then on the trailing path segments, so it works at the
// root of a server, under http.StripPrefix, and for clients whose endpoint
// has a path prefix.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "AWS4-X509-"):
		s.handleCreateSession(w, r)
		return
	case strings.HasPrefix(auth, algHMAC+" "):
		a, err := parseAuthorization(auth)
		if err != nil {
			writeJSONError(w, denied("%v", err))
			return
		}
		switch a.Service {
		case "sts":
			s.handleSTS(w, r, a)
		case "rolesanywhere":
			s.handleControl(w, r, a)
		default:
			writeJSONError(w, denied("Credential: unknown service %q", a.Service))
		}
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/sessions") {
		s.handleCreateSession(w, r)
		return
	}
	writeJSONError(w, denied("missing or unsupported Authorization header"))
}
