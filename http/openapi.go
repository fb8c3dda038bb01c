package http

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route in
// routes.go. It is written by hand, for people first; openapi_test.go keeps
// it honest: a route missing from either side, or an answer that does not
// match its schema, fails the build.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the document, so clients and tools can read the
// contract of the very binary they talk to.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("X-Content-Type-Options", "nosniff") // as every JSON answer
	_, err := w.Write(openAPIDocument)
	if err != nil {
		loggerFrom(r.Context()).WithError(err).Debug("write openapi.json")
	}
	return nil
}
