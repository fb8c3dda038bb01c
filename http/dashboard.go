package http

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// dashboardFiles are the live dashboard: one page, its script and its
// styles, embedded so the binary serves them with no CDN and no build step.
//
//go:embed dashboard
var dashboardFiles embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	contentType string
	body        []byte
	etag        string
}

// dashboardAssets are read once: embedded files never change while the
// binary runs, so their ETags are computed once too.
var dashboardAssets = loadAssets()

func loadAssets() map[string]asset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
		".txt":  "text/plain; charset=utf-8",
	}
	out := map[string]asset{}
	entries, err := fs.ReadDir(dashboardFiles, "dashboard")
	if err != nil {
		panic("http: embedded dashboard: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := dashboardFiles.ReadFile("dashboard/" + e.Name())
		if err != nil {
			panic("http: embedded dashboard: " + err.Error())
		}
		sum := sha256.Sum256(b)
		ct := types[path.Ext(e.Name())]
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[e.Name()] = asset{name: e.Name(), contentType: ct, body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// dashboardPolicy keeps the page to its own origin: no inline script, no
// third-party code, no framing.
const dashboardPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// handleDashboard serves the page at /.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) error {
	return serveAsset(w, r, "index.html")
}

// handleAsset serves the page's scripts and styles at /assets/{file}.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) error {
	name := pathVar(r, "file")
	if name == "index.html" {
		return errorf(http.StatusNotFound, "no asset "+quote(name))
	}
	return serveAsset(w, r, name)
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) error {
	a, ok := dashboardAssets[name]
	if !ok {
		return errorf(http.StatusNotFound, "no asset "+quote(name))
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// Revalidate every time: the ETag makes that a 304, and a new binary's
	// files are never hidden behind a stale cache.
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", dashboardPolicy)
	// Ranges are not served: the files are small, and ServeContent's 206
	// and 416 (a text/plain one) are answers the API does not document.
	// RFC 9110 §14.2 lets a server ignore Range and send the whole file.
	if r.Header.Get("Range") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	http.ServeContent(noRanges{w}, r, a.name, time.Time{}, bytes.NewReader(a.body))
	return nil
}

// noRanges says "Accept-Ranges: none" where ServeContent says bytes.
type noRanges struct{ http.ResponseWriter }

func (w noRanges) WriteHeader(code int) {
	w.Header().Set("Accept-Ranges", "none")
	w.ResponseWriter.WriteHeader(code)
}
