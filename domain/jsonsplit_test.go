package domain

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplit checks the hand splitter against encoding/json on every valid
// JSON object or array: same members, same raw values.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":"x\"}y","b":[1,{"c":"]"}],"c":null}`, ` { "a" : true , "a" : false } `,
		`[1, "two", {"three": [3]}, [], null, -1.5e3]`, `{"k\u00e9y":"v","\\":"\\\\"}`, `{"a":{"b":{"c":{}}}}`,
		`{"messageId":"m","status":"DELIVRD","price":0.0075,"payload":{"x":"}"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The parser splits only objects and arrays (null and other
		// values are refused before), so compare on those.
		t0 := bytes.TrimLeft(b, " \t\r\n")
		if !json.Valid(b) || len(t0) == 0 || (t0[0] != '{' && t0[0] != '[') {
			return
		}
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) == nil {
			got, err := splitObject(b)
			if err != nil {
				t.Fatalf("splitObject(%q): %v", b, err)
			}
			for _, m := range got {
				if _, ok := want[string(m.key)]; !ok {
					t.Fatalf("splitObject(%q) has member %q, encoding/json has not", b, m.key)
				}
			}
			for k, v := range want {
				if g, ok := got.get(k); !ok || !bytes.Equal(g, v) {
					t.Fatalf("splitObject(%q)[%q] = %q, encoding/json %q", b, k, g, v)
				}
			}
		}
		var wantArr []json.RawMessage
		if json.Unmarshal(b, &wantArr) == nil {
			got, err := splitArray(b)
			if err != nil {
				t.Fatalf("splitArray(%q): %v", b, err)
			}
			if len(got) != len(wantArr) {
				t.Fatalf("splitArray(%q) = %d elements, encoding/json %d", b, len(got), len(wantArr))
			}
			for i := range wantArr {
				if !bytes.Equal(got[i], wantArr[i]) {
					t.Fatalf("splitArray(%q)[%d] = %q, encoding/json %q", b, i, got[i], wantArr[i])
				}
			}
		}
	})
}
