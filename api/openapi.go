package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every endpoint of the table in api.go; a test
// checks that the two agree.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.0 document of the API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (a *API) openAPI(w http.ResponseWriter, _ *http.Request, _ *call) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
}
