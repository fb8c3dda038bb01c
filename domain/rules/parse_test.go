package rules

import (
	"errors"
	"strings"
	"testing"
)

const baseRules = `{
  "version": "test-1",
  "countries": {
    "GB": {
      "source": "test source",
      "alphanumeric": {"allowed": true, "minLength": 1, "maxLength": 11, "blocked": ["INFO"]},
      "longCode": {"allowed": true},
      "shortCode": {"allowed": true, "minLength": 5, "maxLength": 5},
      "tollFree": {"allowed": false}
    }
  },
  "rateCard": {"currency": "USD", "default": "0.05", "countries": {"US": {"default": "0.0083", "carriers": {"ATT": "0.0085"}}}},
  "thresholds": {"rerouteFailureRate": 0.15, "watchFailureRate": 0.05, "minTerminalReports": 20},
  "sla": {"thresholdMs": 500, "deliveryThresholdMs": 60000}
}`

// replace edits base once, failing the test if old is not in it, so a case
// never tests the unchanged file by accident.
func replace(t *testing.T, base, old, new string) string {
	t.Helper()
	if strings.Count(base, old) != 1 {
		t.Fatalf("%q occurs %d times in the base file", old, strings.Count(base, old))
	}
	return strings.Replace(base, old, new, 1)
}

func TestParseBase(t *testing.T) {
	r, err := Parse([]byte(baseRules))
	if err != nil {
		t.Fatal(err)
	}
	gb := r.Countries["GB"]
	if r.Version != "test-1" || !gb.Alphanumeric.Allowed || gb.Alphanumeric.MaxLength != 11 || gb.ShortCode.MinLength != 5 ||
		r.Thresholds.MinTerminalReports != 20 || r.SLA.ThresholdMs != 500 || r.RateCard.Currency != "USD" {
		t.Errorf("parsed wrongly: %+v", r)
	}
	// A BOM from a Windows editor is not an error.
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), baseRules...)); err != nil {
		t.Errorf("with BOM: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		// Types.
		{"string for int", `"maxLength": 11`, `"maxLength": "11"`, `rules: countries.GB.alphanumeric.maxLength: must be a whole number, got "11"`},
		{"fraction for int", `"minTerminalReports": 20`, `"minTerminalReports": 2.5`, `rules: thresholds.minTerminalReports: must be a whole number, got 2.5`},
		{"fraction past a float's precision", `"minTerminalReports": 20`, `"minTerminalReports": 20.000000000000001`, `rules: thresholds.minTerminalReports: must be a whole number, got 20.000000000000001`},
		{"a whole number too large for an int", `"minTerminalReports": 20`, `"minTerminalReports": 1e100`, `rules: thresholds.minTerminalReports: must be a whole number of at most 9223372036854775807, got 1e100`},
		{"an SLA of centuries", `"deliveryThresholdMs": 60000`, `"deliveryThresholdMs": 10000000000000`, `rules: sla.deliveryThresholdMs: must be at most 2592000000 milliseconds (30 days), got 10000000000000`},
		{"string for bool", `"tollFree": {"allowed": false}`, `"tollFree": {"allowed": "no"}`, `rules: countries.GB.tollFree.allowed: must be true or false, got "no"`},
		{"number for string", `"version": "test-1"`, `"version": 1`, `rules: version: must be a string, got the number 1`},
		{"string for float", `"rerouteFailureRate": 0.15`, `"rerouteFailureRate": "15%"`, `rules: thresholds.rerouteFailureRate: must be a number, got "15%"`},
		{"null object", `"sla": {"thresholdMs": 500, "deliveryThresholdMs": 60000}`, `"sla": null`, `rules: sla: must be an object, got null`},
		{"object for array", `"blocked": ["INFO"]`, `"blocked": {"INFO": true}`, `rules: countries.GB.alphanumeric.blocked: must be an array, got an object`},
		{"number in array", `"blocked": ["INFO"]`, `"blocked": ["INFO", 7]`, `rules: countries.GB.alphanumeric.blocked[1]: must be a string, got the number 7`},
		{"bool for price", `"ATT": "0.0085"`, `"ATT": true`, `rules: rateCard.countries.US.carriers.ATT: must be a decimal amount such as "0.0075", got true`},
		// Unknown and missing fields.
		{"unknown field", `"maxLength": 11`, `"maxLength": 11, "maxLenght": 11`, `rules: countries.GB.alphanumeric.maxLenght: unknown field`},
		{"unknown field, other case", `"maxLength": 11`, `"maxLength": 11, "MaxLength": 11`, `rules: countries.GB.alphanumeric.MaxLength: unknown field (did you mean "maxLength"?)`},
		{"unknown top-level field", `"version": "test-1",`, `"version": "test-1", "threshold": {},`, `rules: threshold: unknown field`},
		{"missing version", `"version": "test-1",`, ``, `rules: version: is required`},
		{"empty version", `"version": "test-1"`, `"version": "  "`, `rules: version: must not be empty`},
		{"missing source", `"source": "test source",`, ``, `rules: countries.GB.source: is required`},
		{"empty source", `"source": "test source"`, `"source": ""`, `rules: countries.GB.source: must not be empty`},
		{"missing section", `"longCode": {"allowed": true},`, ``, `rules: countries.GB.longCode: is required`},
		{"missing allowed", `"longCode": {"allowed": true}`, `"longCode": {"domesticOnly": true}`, `rules: countries.GB.longCode.allowed: is required`},
		{"missing thresholds", `"thresholds": {"rerouteFailureRate": 0.15, "watchFailureRate": 0.05, "minTerminalReports": 20},`, ``, `rules: thresholds: is required`},
		{"duplicate key", `"version": "test-1",`, `"version": "test-1", "version": "test-2",`, `rules: version: appears twice`},
		// Values.
		{"zero length", `"maxLength": 11`, `"maxLength": 0`, `rules: countries.GB.alphanumeric.maxLength: must be between 1 and 11, got 0`},
		{"length over 11", `"maxLength": 11`, `"maxLength": 12`, `rules: countries.GB.alphanumeric.maxLength: must be between 1 and 11, got 12`},
		{"min over max", `"minLength": 1, "maxLength": 11`, `"minLength": 9, "maxLength": 3`, `rules: countries.GB.alphanumeric.minLength: must not exceed maxLength (3), got 9`},
		{"short code length", `"minLength": 5, "maxLength": 5`, `"minLength": 2, "maxLength": 5`, `rules: countries.GB.shortCode.minLength: must be between 3 and 8, got 2`},
		{"bad regex", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "pattern": "[A-Z"`, `rules: countries.GB.alphanumeric.pattern: not a valid regular expression: error parsing regexp: missing closing ]`},
		{"empty blocked ID", `"blocked": ["INFO"]`, `"blocked": ["INFO", " "]`, `rules: countries.GB.alphanumeric.blocked[1]: must not be empty`},
		{"region typo", `"GB": {`, `"UK": {`, `rules: countries.UK: "UK" is not an ISO 3166-1 alpha-2 country any recipient number maps to (did you mean "GB"?)`},
		{"lower-case region", `"GB": {`, `"gb": {`, `rules: countries.gb: "gb" is not an ISO 3166-1 alpha-2 country any recipient number maps to (did you mean "GB"?)`},
		{"unknown region", `"GB": {`, `"XX": {`, `rules: countries.XX: "XX" is not an ISO 3166-1 alpha-2 country any recipient number maps to`},
		// A territory sharing a calling code is a country, but its numbers
		// are its main country's: the error said JE was no ISO code.
		{"shared territory", `"GB": {`, `"JE": {`, `rules: countries.JE: numbers of JE (+44) are counted under GB: file this rule under GB`},
		{"shared territory, lower case", `"GB": {`, `"va": {`, `rules: countries.va: numbers of VA (+39) are counted under IT: file this rule under IT`},
		{"rate card shared territory", `"countries": {"US": {"default"`, `"countries": {"AX": {"default"`, `rules: rateCard.countries.AX: numbers of AX (+358) are counted under FI: file this rate under FI`},
		{"bad registration date", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "registration": {"required": true, "from": "1 July 2026"}`, `rules: countries.GB.alphanumeric.registration.from: must be a date such as "2026-07-01" or an RFC 3339 time, got "1 July 2026"`},
		{"registered ID out of format", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "registration": {"required": true, "registered": ["ACME", "ACME!"]}`, `rules: countries.GB.alphanumeric.registration.registered[1]: "ACME!" does not match the country's pattern [A-Za-z0-9 ]+`},
		{"registered ID too long", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "registration": {"required": true, "registered": ["ACMECORPORATION"]}`, `rules: countries.GB.alphanumeric.registration.registered[0]: "ACMECORPORATION" has 15 characters, but the country allows 1 to 11`},
		{"negative price", `"ATT": "0.0085"`, `"ATT": "-0.01"`, `rules: rateCard.countries.US.carriers.ATT: must not be negative, got -0.01`},
		{"negative number price", `"ATT": "0.0085"`, `"ATT": -0.01`, `rules: rateCard.countries.US.carriers.ATT: must not be negative, got -0.01`},
		{"price not a number", `"default": "0.05"`, `"default": "five cents"`, `rules: rateCard.default: must be a decimal amount such as "0.0075", got "five cents"`},
		{"price in exponent form", `"default": "0.05"`, `"default": 5e-2`, `rules: rateCard.default: must be a decimal amount such as "0.0075", got "5e-2"`},
		{"duplicate carrier", `"ATT": "0.0085"`, `"ATT": "0.0085", "att": "0.0086"`, `rules: rateCard.countries.US.carriers.att: same carrier as another key once upper-cased (ATT)`},
		{"rate card region", `"countries": {"US": {"default"`, `"countries": {"USA": {"default"`, `rules: rateCard.countries.USA: "USA" is not an ISO 3166-1 alpha-2 country any recipient number maps to`},
		{"currency", `"currency": "USD"`, `"currency": "usd"`, `rules: rateCard.currency: must be a three-letter ISO 4217 code in capitals such as "USD", got "usd"`},
		{"reroute as percent", `"rerouteFailureRate": 0.15`, `"rerouteFailureRate": 15`, `rules: thresholds.rerouteFailureRate: must be a fraction above 0 and at most 1 (0.15 means 15 %), got 15`},
		{"reroute zero", `"rerouteFailureRate": 0.15`, `"rerouteFailureRate": 0`, `rules: thresholds.rerouteFailureRate: must be a fraction above 0 and at most 1`},
		{"watch negative", `"watchFailureRate": 0.05`, `"watchFailureRate": -0.05`, `rules: thresholds.watchFailureRate: must be a fraction between 0 and 1 (0.05 means 5 %), got -0.05`},
		{"watch above reroute", `"watchFailureRate": 0.05`, `"watchFailureRate": 0.2`, `rules: thresholds.watchFailureRate: must be below rerouteFailureRate (0.15), got 0.2`},
		{"watch equal reroute", `"watchFailureRate": 0.05`, `"watchFailureRate": 0.15`, `rules: thresholds.watchFailureRate: must be below rerouteFailureRate (0.15), got 0.15`},
		{"min reports", `"minTerminalReports": 20`, `"minTerminalReports": 0`, `rules: thresholds.minTerminalReports: must be at least 1, got 0`},
		{"sla", `"thresholdMs": 500`, `"thresholdMs": -1`, `rules: sla.thresholdMs: must be at least 1 millisecond, got -1`},
		// The file as a whole.
		{"syntax", `"version": "test-1",`, `"version": "test-1"`, `rules: invalid JSON at line 3, column 3: invalid character '"' after object key:value pair`},
		{"trailing data", `"deliveryThresholdMs": 60000}
}`, `"deliveryThresholdMs": 60000}
} {}`, `rules: unexpected data after the top-level object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(replace(t, baseRules, tt.old, tt.new)))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError: %T", err)
			}
		})
	}
}

func TestParseWholeFileErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"", "rules: file is empty"},
		{"  \n", "rules: file is empty"},
		{"[]", "rules: must be a JSON object, got an array"},
		{`"rules"`, `rules: must be a JSON object, got "rules"`},
		{`{"version": "x"`, "rules: invalid JSON: unexpected end of file"},
		{"{\n  \"version\": 'x'\n}", "rules: invalid JSON at line 2, column 14"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.data))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.data, err, tt.want)
		}
	}
}

// TestParseReportsEveryProblem: an operator fixes a file in one pass.
func TestParseReportsEveryProblem(t *testing.T) {
	data := replace(t, baseRules, `"maxLength": 11`, `"maxLength": 0`)
	data = replace(t, data, `"ATT": "0.0085"`, `"ATT": "-1"`)
	data = replace(t, data, `"watchFailureRate": 0.05`, `"watchFailureRate": 0.5`)
	_, err := Parse([]byte(data))
	if err == nil {
		t.Fatal("no error")
	}
	want := "rules: countries.GB.alphanumeric.maxLength: must be between 1 and 11, got 0\n" +
		"rules: rateCard.countries.US.carriers.ATT: must not be negative, got -1\n" +
		"rules: thresholds.watchFailureRate: must be below rerouteFailureRate (0.15), got 0.5"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "countries.GB.alphanumeric.maxLength" {
		t.Errorf("errors.As: %+v", fe)
	}
}

func TestParseLenientWhereHarmless(t *testing.T) {
	tests := []struct{ name, old, new string }{
		{"price as a JSON number", `"ATT": "0.0085"`, `"ATT": 0.0085`},
		{"short-code lengths left out", `"shortCode": {"allowed": true, "minLength": 5, "maxLength": 5}`, `"shortCode": {"allowed": true}`},
		{"alphanumeric not allowed needs no format", `"alphanumeric": {"allowed": true, "minLength": 1, "maxLength": 11, "blocked": ["INFO"]}`, `"alphanumeric": {"allowed": false}`},
		{"pattern with its own anchors", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "pattern": "^[A-Z]+$"`},
		{"registration with a time", `"blocked": ["INFO"]`, `"blocked": ["INFO"], "registration": {"required": true, "from": "2026-07-01T00:00:00+10:00", "registered": ["ACME"]}`},
		{"no rate card countries", `, "countries": {"US": {"default": "0.0083", "carriers": {"ATT": "0.0085"}}}`, ``},
	}
	// Whole numbers as tools that emit floats write them: refused, with
	// "must be a whole number, got 20.0".
	for _, tt := range []struct{ old, new string }{
		{`"minTerminalReports": 20`, `"minTerminalReports": 20.0`},
		{`"minTerminalReports": 20`, `"minTerminalReports": 2e1`},
		{`"deliveryThresholdMs": 60000`, `"deliveryThresholdMs": 6E4`},
	} {
		r, err := Parse([]byte(replace(t, baseRules, tt.old, tt.new)))
		if err != nil {
			t.Errorf("%s: %v", tt.new, err)
			continue
		}
		if r.Thresholds.MinTerminalReports != 20 || r.SLA.DeliveryThresholdMs != 60000 {
			t.Errorf("%s: read as %d, %d", tt.new, r.Thresholds.MinTerminalReports, r.SLA.DeliveryThresholdMs)
		}
		base, _ := Parse([]byte(baseRules))
		if string(r.Document) != string(base.Document) {
			t.Errorf("%s: another document than the plain file's", tt.new)
		}
	}
	for _, tt := range tests {
		if _, err := Parse([]byte(replace(t, baseRules, tt.old, tt.new))); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestParsePatternIsAnchored: a pattern written without ^ and $ must still
// judge the whole ID, not find a match inside it.
func TestParsePatternIsAnchored(t *testing.T) {
	r, err := Parse([]byte(replace(t, baseRules, `"blocked": ["INFO"]`, `"blocked": ["INFO"], "pattern": "[A-Z]+"`)))
	if err != nil {
		t.Fatal(err)
	}
	if v := r.CheckSender("ACME!", "GB"); v.Rule != RuleAlphanumericCharset {
		t.Errorf("ACME! against unanchored [A-Z]+: %+v", v)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultJSON)
	f.Add([]byte(baseRules))
	f.Add([]byte(priceRules))
	f.Add([]byte(`{"version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a *FieldError: %v", err)
			}
			return
		}
		// Whatever parses must be usable without panicking.
		for code := range r.Countries {
			r.CheckSender("ACME", code)
			r.CheckSender("+12125550123", code)
			r.PricePerSegment("ATT", code)
		}
		r.Thresholds.Recommend(100, 10)
	})
}

// The document read models record: the same rules however the file is laid
// out, other rules when a value changes though the version does not.
func TestParseDocument(t *testing.T) {
	doc := func(file string) string {
		t.Helper()
		r, err := Parse([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		return string(r.Document)
	}
	base := doc(baseRules)
	relaid := strings.Join(strings.Fields(baseRules), " ")
	tests := []struct {
		name string
		file string
		same bool
	}{
		{"white space", relaid, true},
		{"keys reordered", replace(t, baseRules, `"rerouteFailureRate": 0.15, "watchFailureRate": 0.05`, `"watchFailureRate": 0.05, "rerouteFailureRate": 0.15`), true},
		{"a number written otherwise", replace(t, baseRules, `"rerouteFailureRate": 0.15`, `"rerouteFailureRate": 1.50e-1`), true},
		{"a threshold", replace(t, baseRules, `"rerouteFailureRate": 0.15`, `"rerouteFailureRate": 0.2`), false},
		{"a price", replace(t, baseRules, `"ATT": "0.0085"`, `"ATT": "0.5"`), false},
	}
	for _, tt := range tests {
		if got := doc(tt.file) == base; got != tt.same {
			t.Errorf("%s: same document %v, want %v", tt.name, got, tt.same)
		}
	}
	if strings.Contains(base, "\n") {
		t.Errorf("document not compact: %s", base)
	}
}
