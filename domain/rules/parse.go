package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cxsms/cxsms/domain"
)

// FieldError says which field of a rules file is wrong and what is wrong with
// it. Field is the dotted path from the top of the file
// ("countries.GB.alphanumeric.maxLength", "rateCard.countries.US.carriers.ATT",
// "countries.AU.alphanumeric.blocked[2]"); it is empty for the file as a whole.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "rules: " + e.Reason
	}
	return "rules: " + e.Field + ": " + e.Reason
}

// maxErrors bounds what Parse reports: enough to fix a file in one pass, not
// a wall of text when the wrong file was given.
const maxErrors = 20

// errList collects field errors in the order the file is checked, which is
// sorted by key, so the same file always gives the same message.
type errList []error

func (l *errList) add(field, format string, args ...any) {
	if len(*l) < maxErrors {
		*l = append(*l, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
}

// Parse reads and validates a rules file. It is strict, because a rule that
// is silently ignored re-judges history wrongly: unknown fields, duplicate
// keys, wrong types and values out of range are all errors. The error joins
// one *FieldError per problem (errors.As finds the first), each printed as
// `rules: countries.GB.alphanumeric.maxLength: must be between 1 and 11, got 0`.
func Parse(data []byte) (*Rules, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on Windows add a BOM
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	var errs errList
	checkShape(tree, reflect.TypeOf(fileRules{}), "", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Whole numbers may be written 20.0 or 2e1 (tools that emit floats
	// do); the struct's int fields take them as digits.
	whole, err := json.Marshal(mapNumbers(tree, asDigits))
	if err != nil {
		return nil, &FieldError{Reason: "cannot encode: " + err.Error()}
	}
	var f fileRules
	if err := json.Unmarshal(whole, &f); err != nil {
		// checkShape admits only what Unmarshal accepts; reaching here is a bug.
		return nil, &FieldError{Reason: "cannot decode: " + err.Error()}
	}
	r := f.build(&errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Maps marshal with sorted keys, and numbers are written one way (0.2
	// for 0.200 and 2e-1): the same rules give the same document however
	// the file is laid out, and a reformatted file rebuilds nothing.
	if r.Document, err = json.Marshal(mapNumbers(tree, oneSpelling)); err != nil {
		return nil, &FieldError{Reason: "cannot encode: " + err.Error()}
	}
	return r, nil
}

// mapNumbers rewrites every json.Number of a decoded tree with f, in place.
func mapNumbers(v any, f func(json.Number) json.Number) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = mapNumbers(e, f)
		}
	case []any:
		for i, e := range t {
			t[i] = mapNumbers(e, f)
		}
	case json.Number:
		return f(t)
	}
	return v
}

// asDigits writes a whole number as plain digits (wholeNumber), for the
// struct's int fields; other numbers stay as they are.
func asDigits(n json.Number) json.Number {
	if i, ok := wholeNumber(n); ok {
		return json.Number(strconv.Itoa(i))
	}
	return n
}

// wholeNumber reads n as a whole number however it is written (20, 20.0,
// 2e1), exactly: 20.000000000000001 is no whole number, though a float64
// reads it as 20.
func wholeNumber(n json.Number) (int, bool) {
	s := domain.CanonicalNumber(n.String()) // plain digits when whole
	if strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil
}

// oneSpelling writes a number the one way a rules document keeps it: its
// float64's shortest form, as documents have always been written.
func oneSpelling(n json.Number) json.Number {
	if f, err := strconv.ParseFloat(string(n), 64); err == nil {
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return n
}

// The file's shape. Fields tagged rules:"required" must be present; checkShape
// enforces it, and build then checks values.
type fileRules struct {
	Version     string                 `json:"version" rules:"required"`
	Description string                 `json:"description"`
	Countries   map[string]fileCountry `json:"countries" rules:"required"`
	RateCard    fileRateCard           `json:"rateCard" rules:"required"`
	Thresholds  fileThresholds         `json:"thresholds" rules:"required"`
	SLA         fileSLA                `json:"sla" rules:"required"`
}

type fileCountry struct {
	Name         string    `json:"name"`
	Source       string    `json:"source" rules:"required"`
	Notes        string    `json:"notes"`
	Alphanumeric fileAlpha `json:"alphanumeric" rules:"required"`
	LongCode     fileLong  `json:"longCode" rules:"required"`
	ShortCode    fileShort `json:"shortCode" rules:"required"`
	TollFree     fileToll  `json:"tollFree" rules:"required"`
}

type fileAlpha struct {
	Allowed      bool              `json:"allowed" rules:"required"`
	MinLength    int               `json:"minLength"`
	MaxLength    int               `json:"maxLength"`
	Pattern      string            `json:"pattern"`
	Blocked      []string          `json:"blocked"`
	Registration *fileRegistration `json:"registration"`
}

type fileRegistration struct {
	Required   bool     `json:"required" rules:"required"`
	From       string   `json:"from"`
	Authority  string   `json:"authority"`
	Registered []string `json:"registered"`
}

type fileLong struct {
	Allowed      bool `json:"allowed" rules:"required"`
	DomesticOnly bool `json:"domesticOnly"`
}

type fileShort struct {
	Allowed   bool `json:"allowed" rules:"required"`
	MinLength int  `json:"minLength"`
	MaxLength int  `json:"maxLength"`
}

type fileToll struct {
	Allowed bool `json:"allowed" rules:"required"`
}

type fileRateCard struct {
	Currency  string                      `json:"currency" rules:"required"`
	Default   amount                      `json:"default"`
	Notes     string                      `json:"notes"`
	Countries map[string]fileCountryRates `json:"countries"`
}

type fileCountryRates struct {
	Default  amount            `json:"default"`
	Carriers map[string]amount `json:"carriers"`
}

type fileThresholds struct {
	RerouteFailureRate float64 `json:"rerouteFailureRate" rules:"required"`
	WatchFailureRate   float64 `json:"watchFailureRate" rules:"required"`
	MinTerminalReports int     `json:"minTerminalReports" rules:"required"`
}

type fileSLA struct {
	ThresholdMs         int `json:"thresholdMs" rules:"required"`
	DeliveryThresholdMs int `json:"deliveryThresholdMs" rules:"required"`
}

// amount is a price as written in the file: a JSON string ("0.0075") or
// number (0.0075). The text is kept and read by domain.ParseMicros, so a
// price is exact and never passes through a float.
type amount string

func (a *amount) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = amount(s)
		return nil
	}
	*a = amount(b)
	return nil
}

var amountType = reflect.TypeOf(amount(""))

// decodeTree parses data into maps, slices and json.Numbers, refusing
// duplicate keys (encoding/json would keep the last one without a word) and
// anything after the top-level object.
func decodeTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, "")
	if err != nil {
		return nil, syntaxError(data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Reason: "unexpected data after the top-level object"}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &FieldError{Reason: "must be a JSON object, got " + kindOf(v)}
	}
	return v, nil
}

func readValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string) // the decoder only yields string keys inside an object
				p := join(path, k)
				if _, dup := m[k]; dup {
					return nil, &FieldError{Field: p, Reason: "appears twice"}
				}
				if m[k], err = readValue(dec, p); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token() // '}'
			return m, err
		case '[':
			s := []any{}
			for dec.More() {
				v, err := readValue(dec, fmt.Sprintf("%s[%d]", path, len(s)))
				if err != nil {
					return nil, err
				}
				s = append(s, v)
			}
			_, err := dec.Token() // ']'
			return s, err
		}
	}
	return tok, nil
}

// syntaxError turns a decoder error into one that says where in the file it
// is, since a JSON typo has no field path yet. off is where the decoder
// stopped: after the last good token, so the culprit is the next character
// that is not white space or a separator.
func syntaxError(data []byte, off int64, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if len(bytes.TrimSpace(data)) == 0 {
			return &FieldError{Reason: "file is empty"}
		}
		return &FieldError{Reason: "invalid JSON: unexpected end of file"}
	}
	i := min(int(off), len(data))
	for i < len(data) && strings.IndexByte(" \t\r\n:,", data[i]) >= 0 {
		i++
	}
	line, col := 1, 1
	for _, c := range data[:i] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	msg := err.Error()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg = se.Error()
	}
	return &FieldError{Reason: fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, msg)}
}

// checkShape compares the decoded tree with the Go type it must fill, so that
// unknown fields, missing required fields and wrong types are reported with
// their path, which encoding/json's own errors do not give for unknown fields.
func checkShape(v any, t reflect.Type, path string, errs *errList) {
	if t == amountType {
		switch v.(type) {
		case json.Number, string:
		default:
			errs.add(path, "must be a decimal amount such as \"0.0075\", got %s", kindOf(v))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v != nil {
			checkShape(v, t.Elem(), path, errs)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			errs.add(path, "must be an object, got %s", kindOf(v))
			return
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			fields[name] = f
			names = append(names, name)
		}
		for _, k := range sortedKeys(m) {
			f, ok := fields[k]
			if !ok {
				errs.add(join(path, k), "unknown field%s", suggest(k, names))
				continue
			}
			checkShape(m[k], f.Type, join(path, k), errs)
		}
		for _, name := range names {
			if _, ok := m[name]; !ok && fields[name].Tag.Get("rules") == "required" {
				errs.add(join(path, name), "is required")
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			errs.add(path, "must be an object, got %s", kindOf(v))
			return
		}
		for _, k := range sortedKeys(m) {
			checkShape(m[k], t.Elem(), join(path, k), errs)
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			errs.add(path, "must be an array, got %s", kindOf(v))
			return
		}
		for i, e := range s {
			checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			errs.add(path, "must be a string, got %s", kindOf(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			errs.add(path, "must be true or false, got %s", kindOf(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			errs.add(path, "must be a whole number, got %s", kindOf(v))
		} else if _, ok := wholeNumber(n); !ok {
			if c := domain.CanonicalNumber(n.String()); !strings.Contains(c, ".") && !strings.Contains(c, "e-") {
				errs.add(path, "must be a whole number of at most %d, got %s", math.MaxInt, n)
			} else {
				errs.add(path, "must be a whole number, got %s", n)
			}
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			errs.add(path, "must be a number, got %s", kindOf(v))
		} else if _, err := n.Float64(); err != nil {
			errs.add(path, "must be a number, got %s", n)
		}
	default:
		panic("rules: checkShape: unhandled kind " + t.Kind().String())
	}
}

// kindOf names a decoded JSON value's kind for an error message.
func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case json.Number:
		return "the number " + x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// suggest names the field a misspelt key was probably meant to be.
func suggest(k string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, k) || strings.EqualFold(strings.ReplaceAll(k, "_", ""), n) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
	}
	return ""
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Limits that Parse enforces. An SMS originating address holds at most eleven
// characters when it is a name (3GPP TS 23.040); short codes are 3 to 8
// digits in every market the default rules cover.
const (
	maxAlphaLength  = 11
	minShortCode    = 3
	maxShortCode    = 8
	defaultAlphaPat = `[A-Za-z0-9 ]+`
)

func (f *fileRules) build(errs *errList) *Rules {
	r := &Rules{
		Version:     strings.TrimSpace(f.Version),
		Description: f.Description,
		Countries:   map[string]CountryRule{},
	}
	if r.Version == "" {
		errs.add("version", "must not be empty: name this set of rules so read models can say which rules judged them")
	}
	for _, code := range sortedKeys(f.Countries) {
		path := "countries." + code
		if checkRegionKey(code, path, "rule", errs) {
			r.Countries[code] = f.Countries[code].build(code, path, errs)
		}
	}
	r.RateCard = f.RateCard.build(errs)
	r.Thresholds = f.Thresholds.build(errs)
	r.SLA = f.SLA.build(errs)
	return r
}

// checkRegionKey refuses a country key that no recipient can ever have, since
// such a rule would never apply: a typo ("UK" for GB), or a territory whose
// numbers are counted under the country it shares a calling code with (JE,
// whose +44 numbers are GB's), which the error names. what is what the key
// files, "rule" or "rate", for the error to say where it belongs.
func checkRegionKey(code, path, what string, errs *errList) bool {
	if knownRegion(code) {
		return true
	}
	if main, cc, ok := SharedTerritory(code); ok {
		errs.add(path, "numbers of %s (+%s) are counted under %s: file this %s under %s", normRegion(code), cc, main, what, main)
		return false
	}
	hint := ""
	if n := normRegion(code); n != code && knownRegion(n) {
		hint = fmt.Sprintf(" (did you mean %q?)", n)
	}
	errs.add(path, "%q is not an ISO 3166-1 alpha-2 country any recipient number maps to%s", code, hint)
	return false
}

func (c fileCountry) build(code, path string, errs *errList) CountryRule {
	cr := CountryRule{
		Country: code,
		Name:    c.Name,
		Source:  strings.TrimSpace(c.Source),
		Notes:   c.Notes,
		LongCode: LongCodeRule{
			Allowed:      c.LongCode.Allowed,
			DomesticOnly: c.LongCode.DomesticOnly,
		},
		TollFree: TollFreeRule{Allowed: c.TollFree.Allowed},
	}
	if cr.Source == "" {
		errs.add(path+".source", "must not be empty: cite the carrier guideline this rule is drawn from")
	}
	cr.Alphanumeric = c.Alphanumeric.build(path+".alphanumeric", errs)
	cr.ShortCode = c.ShortCode.build(path+".shortCode", errs)
	return cr
}

func (a fileAlpha) build(path string, errs *errList) AlphanumericRule {
	ar := AlphanumericRule{
		Allowed:   a.Allowed,
		MinLength: a.MinLength,
		MaxLength: a.MaxLength,
		Pattern:   a.Pattern,
	}
	if ar.Pattern == "" {
		ar.Pattern = defaultAlphaPat
	}
	// Anchored here so that a pattern written without ^ and $ cannot match
	// just part of an ID.
	re, err := regexp.Compile(`^(?:` + ar.Pattern + `)$`)
	if err != nil {
		errs.add(path+".pattern", "not a valid regular expression: %v", err)
	} else {
		ar.pattern = re
	}
	if a.Allowed {
		lengthsOK := true
		for _, l := range []struct {
			name string
			v    int
		}{{"minLength", a.MinLength}, {"maxLength", a.MaxLength}} {
			if l.v < 1 || l.v > maxAlphaLength {
				errs.add(path+"."+l.name, "must be between 1 and %d, got %d", maxAlphaLength, l.v)
				lengthsOK = false
			}
		}
		if lengthsOK && a.MinLength > a.MaxLength {
			errs.add(path+".minLength", "must not exceed maxLength (%d), got %d", a.MaxLength, a.MinLength)
		}
	}
	for i, b := range a.Blocked {
		b = strings.TrimSpace(b)
		if b == "" {
			errs.add(fmt.Sprintf("%s.blocked[%d]", path, i), "must not be empty")
			continue
		}
		ar.Blocked = append(ar.Blocked, b)
	}
	if a.Registration != nil {
		ar.Registration = a.Registration.build(path+".registration", ar, errs)
	}
	return ar
}

func (g fileRegistration) build(path string, ar AlphanumericRule, errs *errList) Registration {
	reg := Registration{Required: g.Required, Authority: g.Authority}
	if g.From != "" {
		t, err := parseFrom(g.From)
		if err != nil {
			errs.add(path+".from", "must be a date such as \"2026-07-01\" or an RFC 3339 time, got %q", g.From)
		}
		reg.From = t
	}
	for i, id := range g.Registered {
		p := fmt.Sprintf("%s.registered[%d]", path, i)
		id = strings.TrimSpace(id)
		if id == "" {
			errs.add(p, "must not be empty")
			continue
		}
		// A registered ID the country's own format refuses could never
		// pass, so the list has a typo or the format is wrong.
		if ar.Allowed && ar.pattern != nil {
			if n := len([]rune(id)); n < ar.MinLength || n > ar.MaxLength {
				errs.add(p, "%q has %d characters, but the country allows %d to %d", id, n, ar.MinLength, ar.MaxLength)
				continue
			}
			if !ar.pattern.MatchString(id) {
				errs.add(p, "%q does not match the country's pattern %s", id, ar.Pattern)
				continue
			}
		}
		reg.Registered = append(reg.Registered, id)
	}
	return reg
}

func parseFrom(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (s fileShort) build(path string, errs *errList) ShortCodeRule {
	sr := ShortCodeRule{Allowed: s.Allowed, MinLength: s.MinLength, MaxLength: s.MaxLength}
	if s.MinLength == 0 && s.MaxLength == 0 {
		// Lengths left out: the sources did not give them, so take every
		// length a short code can have.
		sr.MinLength, sr.MaxLength = minShortCode, maxShortCode
		return sr
	}
	ok := true
	for _, l := range []struct {
		name string
		v    int
	}{{"minLength", s.MinLength}, {"maxLength", s.MaxLength}} {
		if l.v < minShortCode || l.v > maxShortCode {
			errs.add(path+"."+l.name, "must be between %d and %d, got %d", minShortCode, maxShortCode, l.v)
			ok = false
		}
	}
	if ok && s.MinLength > s.MaxLength {
		errs.add(path+".minLength", "must not exceed maxLength (%d), got %d", s.MaxLength, s.MinLength)
	}
	return sr
}

func (c fileRateCard) build(errs *errList) RateCard {
	rc := RateCard{Currency: c.Currency, Notes: c.Notes, Countries: map[string]CountryRates{}}
	if !isCurrency(c.Currency) {
		errs.add("rateCard.currency", "must be a three-letter ISO 4217 code in capitals such as \"USD\", got %q", c.Currency)
	}
	rc.Default = c.Default.price("rateCard.default", errs)
	for _, code := range sortedKeys(c.Countries) {
		path := "rateCard.countries." + code
		if !checkRegionKey(code, path, "rate", errs) {
			continue
		}
		cc := c.Countries[code]
		cr := CountryRates{
			Default:  cc.Default.price(path+".default", errs),
			Carriers: map[string]domain.Micros{},
		}
		for _, carrier := range sortedKeys(cc.Carriers) {
			p := path + ".carriers." + carrier
			key := normCarrier(carrier)
			if key == "" {
				errs.add(p, "carrier code must not be empty")
				continue
			}
			if _, dup := cr.Carriers[key]; dup {
				errs.add(p, "same carrier as another key once upper-cased (%s)", key)
				continue
			}
			if m := cc.Carriers[carrier].price(p, errs); m != nil {
				cr.Carriers[key] = *m
			}
		}
		rc.Countries[code] = cr
	}
	return rc
}

// price reads an optional price: nil when the file leaves it out.
func (a amount) price(path string, errs *errList) *domain.Micros {
	s := strings.TrimSpace(string(a))
	if s == "" {
		if a != "" {
			errs.add(path, "must be a decimal amount such as \"0.0075\", got %q", string(a))
		}
		return nil
	}
	m, err := domain.ParseMicros(s)
	if err != nil {
		errs.add(path, "must be a decimal amount such as \"0.0075\", got %q", s)
		return nil
	}
	if m < 0 {
		errs.add(path, "must not be negative, got %s", s)
		return nil
	}
	return &m
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func (t fileThresholds) build(errs *errList) Thresholds {
	th := Thresholds{
		RerouteFailureRate: t.RerouteFailureRate,
		WatchFailureRate:   t.WatchFailureRate,
		MinTerminalReports: t.MinTerminalReports,
	}
	rerouteOK := t.RerouteFailureRate > 0 && t.RerouteFailureRate <= 1
	if !rerouteOK {
		errs.add("thresholds.rerouteFailureRate", "must be a fraction above 0 and at most 1 (0.15 means 15 %%), got %v", t.RerouteFailureRate)
	}
	switch {
	case t.WatchFailureRate <= 0 || t.WatchFailureRate >= 1:
		errs.add("thresholds.watchFailureRate", "must be a fraction between 0 and 1 (0.05 means 5 %%), got %v", t.WatchFailureRate)
	case rerouteOK && t.WatchFailureRate >= t.RerouteFailureRate:
		errs.add("thresholds.watchFailureRate", "must be below rerouteFailureRate (%v), got %v", t.RerouteFailureRate, t.WatchFailureRate)
	}
	if t.MinTerminalReports < 1 {
		errs.add("thresholds.minTerminalReports", "must be at least 1, got %d", t.MinTerminalReports)
	}
	return th
}

// maxSLAMs bounds an SLA threshold: 30 days, longer than any SMS is kept
// for delivery. Past about 292 years a threshold overflowed a Duration and
// every report counted as late: 0 % compliance under a file read as valid.
const maxSLAMs = 30 * 24 * 60 * 60 * 1000

func (s fileSLA) build(errs *errList) SLA {
	for _, t := range []struct {
		field string
		ms    int
	}{{"sla.thresholdMs", s.ThresholdMs}, {"sla.deliveryThresholdMs", s.DeliveryThresholdMs}} {
		switch {
		case t.ms < 1:
			errs.add(t.field, "must be at least 1 millisecond, got %d", t.ms)
		case t.ms > maxSLAMs:
			errs.add(t.field, "must be at most %d milliseconds (30 days), got %d", maxSLAMs, t.ms)
		}
	}
	return SLA{ThresholdMs: s.ThresholdMs, DeliveryThresholdMs: s.DeliveryThresholdMs}
}
