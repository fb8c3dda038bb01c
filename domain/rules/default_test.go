package rules

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDefaultParses is why Default may panic: the embedded file is checked
// here, before any binary ships it.
func TestDefaultParses(t *testing.T) {
	if _, err := Parse(defaultJSON); err != nil {
		t.Fatalf("embedded default.json: %v", err)
	}
	Default()
}

func TestDefaultContents(t *testing.T) {
	r := Default()
	if r.Version == "" {
		t.Error("no version")
	}
	if len(r.Countries) < 25 {
		t.Errorf("%d countries, want at least 25", len(r.Countries))
	}
	for code, c := range r.Countries {
		if !strings.Contains(c.Source, "https://") {
			t.Errorf("%s: source should cite a guideline page: %q", code, c.Source)
		}
		if c.Name == "" || c.Notes == "" {
			t.Errorf("%s: want a name and notes", code)
		}
	}
	for _, code := range []string{"US", "CA"} {
		c := r.Countries[code]
		if c.Alphanumeric.Allowed || !c.LongCode.Allowed || !c.LongCode.DomesticOnly || !c.TollFree.Allowed ||
			c.ShortCode.MinLength != 5 || c.ShortCode.MaxLength != 6 {
			t.Errorf("%s: want no alphanumeric IDs, domestic long codes, 5-6 digit short codes and toll-free: %+v", code, c)
		}
	}
	gb := r.Countries["GB"].Alphanumeric
	if !gb.Allowed || gb.MinLength != 1 || gb.MaxLength != 11 {
		t.Errorf("GB: want alphanumeric 1-11: %+v", gb)
	}
	in := r.Countries["IN"].Alphanumeric
	if in.MinLength != 6 || in.MaxLength != 6 || !in.Registration.Required {
		t.Errorf("IN: want registered 6-letter headers: %+v", in)
	}
	au := r.Countries["AU"].Alphanumeric.Registration
	if !au.Required || !au.From.Equal(time.Date(2026, 6, 30, 14, 0, 0, 0, time.UTC)) || len(au.Registered) == 0 {
		t.Errorf("AU: want registration from 1 July 2026 AEST with example IDs: %+v", au)
	}
	if th := r.Thresholds; th.RerouteFailureRate != 0.15 || th.WatchFailureRate != 0.05 || th.MinTerminalReports != 20 {
		t.Errorf("thresholds: %+v", th)
	}
	if r.SLA.ThresholdMs != 500 || r.SLA.DeliveryThresholdMs != 60000 {
		t.Errorf("sla: %+v", r.SLA)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a, b := Default(), Default()
	c := a.Countries["GB"]
	c.Alphanumeric.Allowed = false
	a.Countries["GB"] = c
	if !b.Countries["GB"].Alphanumeric.Allowed {
		t.Error("changing one Default() changed another")
	}
	j := DefaultJSON()
	j[0] = 'x'
	if defaultJSON[0] == 'x' {
		t.Error("DefaultJSON returned the embedded bytes themselves")
	}
}

// TestImportsArePure keeps the package inside the domain's rule: the standard
// library and the domain package, nothing that does I/O on its own.
func TestImportsArePure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case path == "github.com/cxsms/cxsms/domain":
			case strings.Contains(strings.Split(path, "/")[0], "."):
				t.Errorf("%s imports %s: only the standard library and domain are allowed", name, path)
			case path == "os" || path == "net" || strings.HasPrefix(path, "net/") || path == "os/exec":
				t.Errorf("%s imports %s: the package does no I/O", name, path)
			}
		}
	}
}
