package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func decodePart(t *testing.T, s string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueShape(t *testing.T) {
	k, _ := testKeys(t)
	claims := map[string]any{"x-ms-ver": "1.0", "b": 1, "a": map[string]any{"z": true, "y": "<&>"}}
	before := len(claims)
	now := t0.Add(999 * time.Millisecond) // sub-second part is dropped
	tok, err := Issue(claims, k, testIssuer, now, ManagementLifetime, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != before {
		t.Error("Issue modified the caller's claims")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] == "" {
		t.Fatalf("not a signed compact JWS: %q", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if want := `{"alg":"RS256","jku":"` + testIssuer + `/certs","kid":"` + k.KID + `","typ":"JWT"}`; string(hdr) != want {
		t.Errorf("header %s", hdr)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	want := `{"a":{"y":"<&>","z":true},"b":1,"exp":1740834000,"iat":1740830400,"iss":"https://avow.example/providers/p1","jti":"`
	if !strings.HasPrefix(string(payload), want) {
		t.Errorf("payload %s\nwant prefix %s", payload, want)
	}
	m := decodePart(t, parts[1])
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(m["jti"].(string)) {
		t.Errorf("random jti %q is not 64 lower-case hex", m["jti"])
	}
	if m["nbf"] != m["iat"] || m["exp"].(float64)-m["iat"].(float64) != 3600 {
		t.Errorf("nbf %v iat %v exp %v", m["nbf"], m["iat"], m["exp"])
	}
	tok2, _ := Issue(claims, k, testIssuer, now, ManagementLifetime, "")
	if decodePart(t, strings.Split(tok2, ".")[1])["jti"] == m["jti"] {
		t.Error("two random jti are equal")
	}
	// Payload keys are in lexicographic order at every level.
	if !keysInOrder(t, payload) {
		t.Errorf("keys not sorted: %s", payload)
	}
}

// keysInOrder checks that every JSON object in b has its keys in
// lexicographic order.
func keysInOrder(t *testing.T, b []byte) bool {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	type frame struct {
		obj  bool
		last string
		key  bool
	}
	var stack []frame
	for {
		tk, err := dec.Token()
		if err != nil {
			return true
		}
		if d, ok := tk.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{obj: true, key: true})
				continue
			case '[':
				stack = append(stack, frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		} else if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].key {
			s := tk.(string)
			if s <= stack[n-1].last && stack[n-1].last != "" {
				return false
			}
			stack[n-1].last = s
			stack[n-1].key = false
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].key = true
		}
	}
}

func TestIssueUnsigned(t *testing.T) {
	tok, err := IssueUnsigned(map[string]any{"x-ms-policy": map[string]any{"custom-name": "x"}}, testIssuer, t0, AttestationLifetime, "j1")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "eyJhbGciOiJub25lIn0" || parts[2] != "" || !strings.HasSuffix(tok, ".") {
		t.Fatalf("unsigned token %q", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"alg":"none"}` {
		t.Errorf("header %s", hdr)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if want := `{"exp":1740859200,"iat":1740830400,"iss":"https://avow.example/providers/p1","jti":"j1","nbf":1740830400,"x-ms-policy":{"custom-name":"x"}}`; string(payload) != want {
		t.Errorf("payload %s", payload)
	}
}

func TestIssueErrors(t *testing.T) {
	k, _ := testKeys(t)
	retired := *k
	retired.RetiredAt = t0
	for name, tc := range map[string]struct {
		claims   map[string]any
		key      *SigningKey
		issuer   string
		now      time.Time
		lifetime time.Duration
		want     error
	}{
		"iss claim":      {map[string]any{"iss": "x"}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"exp claim":      {map[string]any{"exp": 1}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"jti claim":      {map[string]any{"jti": "x"}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"nbf claim":      {map[string]any{"nbf": 1}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"iat claim":      {map[string]any{"iat": 1}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"unencodable":    {map[string]any{"f": math.NaN()}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"channel":        {map[string]any{"c": make(chan int)}, k, testIssuer, t0, time.Hour, ErrIssueFailed},
		"no issuer":      {nil, k, "", t0, time.Hour, ErrIssueFailed},
		"zero time":      {nil, k, testIssuer, time.Time{}, time.Hour, ErrIssueFailed},
		"zero lifetime":  {nil, k, testIssuer, t0, 0, ErrIssueFailed},
		"short lifetime": {nil, k, testIssuer, t0, time.Millisecond, ErrIssueFailed},
		"nil key":        {nil, nil, testIssuer, t0, time.Hour, ErrIssueFailed},
		"key no private": {nil, &SigningKey{KID: "x"}, testIssuer, t0, time.Hour, ErrIssueFailed},
		"retired key":    {nil, &retired, testIssuer, t0, time.Hour, ErrKeyRetired},
	} {
		_, err := Issue(tc.claims, tc.key, tc.issuer, tc.now, tc.lifetime, "")
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if tc.key == k {
			if _, err := IssueUnsigned(tc.claims, tc.issuer, tc.now, tc.lifetime, ""); !errors.Is(err, tc.want) {
				t.Errorf("%s unsigned: %v, want %v", name, err, tc.want)
			}
		}
	}
	// A key retired in the future still signs.
	retired.RetiredAt = t0.Add(time.Second)
	if _, err := Issue(nil, &retired, testIssuer, t0, time.Hour, ""); err != nil {
		t.Errorf("key retiring later: %v", err)
	}
}

// TestIssueNilClaims: no claims gives just the issuer's claims.
func TestIssueNilClaims(t *testing.T) {
	k, _ := testKeys(t)
	tok, err := Issue(nil, k, testIssuer, t0, time.Hour, "j")
	if err != nil {
		t.Fatal(err)
	}
	m := decodePart(t, strings.Split(tok, ".")[1])
	want := map[string]any{"exp": 1740834000.0, "iat": 1740830400.0, "nbf": 1740830400.0, "iss": testIssuer, "jti": "j"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("%v", m)
	}
}

// TestIssueConcurrent: one key signs from many goroutines (run with -race).
func TestIssueConcurrent(t *testing.T) {
	k, _ := testKeys(t)
	claims := sgxClaims()
	keys := []PublicKey{k.PublicKey()}
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			tok, err := Issue(claims, k, testIssuer, t0, time.Hour, "")
			if err == nil {
				_, _, err = Verify(tok, keys, VerifyOptions{Now: t0})
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
