package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// signatureTolerance is how far a webhook-timestamp may be from our clock,
// as the Standard Webhooks specification recommends: replays older than this
// are refused.
const signatureTolerance = 5 * time.Minute

// signingKeys are the Standard Webhooks secrets we accept. Several may be
// configured (keyFields) while a key is rotated.
type signingKeys [][]byte

// keyFields splits WEBHOOK_SIGNING_SECRET into its keys. Any white space
// separates, as a line break from a mounted secret file does: split on
// spaces alone, "\n" was a key anyone could sign with.
func keyFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
}

// parseSigningKeys reads WEBHOOK_SIGNING_SECRET: "whsec_<base64>" keys, or raw
// strings, separated by white space or commas. A raw string that is base64 is
// also taken as the bytes it decodes to, as the Standard Webhooks libraries
// read a key pasted without its prefix: taken only as written, such a key
// refused every signature those libraries made, with no word at start.
func parseSigningKeys(s string) (signingKeys, error) {
	var keys signingKeys
	for _, f := range keyFields(s) {
		if b64, ok := strings.CutPrefix(f, "whsec_"); ok {
			k, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("WEBHOOK_SIGNING_SECRET: a whsec_ key is not valid base64")
			}
			if len(k) == 0 {
				// Anyone can compute an HMAC with an empty key: "$NEW
				// whsec_$OLD" with OLD unset made signatures worthless.
				return nil, fmt.Errorf("WEBHOOK_SIGNING_SECRET: a whsec_ key is empty, and would let anyone sign")
			}
			keys = append(keys, k)
			continue
		}
		keys = append(keys, []byte(f))
		if k, err := base64.StdEncoding.DecodeString(f); err == nil && len(k) > 0 {
			keys = append(keys, k)
		}
	}
	if s != "" && len(keys) == 0 {
		// Set but holding no key: a blank meant signatures off, silently.
		return nil, fmt.Errorf("WEBHOOK_SIGNING_SECRET is set but holds no key (only white space or commas): " +
			"give the key, or unset it to accept unsigned deliveries")
	}
	return keys, nil
}

// verify checks a Standard Webhooks signature: HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{body}", base64, in a header that may hold
// several "v1,<sig>" entries (one per key during a rotation).
//
// bodies are the forms of the body a signature may cover (as sent, or as a
// compressed one inflates to); one matching is enough.
func (keys signingKeys) verify(id, timestamp, header string, now time.Time, bodies ...[]byte) error {
	if id == "" || timestamp == "" || header == "" {
		return fmt.Errorf("missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp is not a unix time")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > signatureTolerance || d < -signatureTolerance {
		return fmt.Errorf("webhook-timestamp is more than %v from now", signatureTolerance)
	}
	for _, key := range keys {
		for _, body := range bodies {
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id))
			mac.Write([]byte{'.'})
			mac.Write([]byte(timestamp))
			mac.Write([]byte{'.'})
			mac.Write(body)
			want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			for _, sig := range strings.Fields(header) {
				version, value, ok := strings.Cut(sig, ",")
				if ok && version == "v1" && subtle.ConstantTimeCompare([]byte(value), []byte(want)) == 1 {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("no webhook-signature matches")
}

// Sign returns a webhook-signature header value for body, as a sender
// would compute it; the simulator and tests use it.
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
