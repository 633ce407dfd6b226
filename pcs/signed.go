package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// SplitSigned takes a PCS response body such as
// {"tcbInfo":{…},"signature":"<128 hex>"} or {"enclaveIdentity":{…},…} and
// returns the exact bytes of the member object named member (as they appear
// in body, not re-encoded) and the decoded 64-byte signature.
//
// As in QVL (RapidJSON): the body must be one JSON object, optionally
// followed by whitespace or NUL bytes (Intel's collateral structures count a
// terminating NUL); member names are case-sensitive and the first occurrence
// of a name counts; other members are ignored; member must be an object and
// "signature" a string of exactly 128 hex digits.
//
// Errors wrap ErrTCBInfoFormat for member "tcbInfo", ErrQEIdentityFormat for
// "enclaveIdentity" and ErrCollateralFormat otherwise.
func SplitSigned(body []byte, member string) (raw, signature []byte, err error) {
	fail := ErrCollateralFormat
	switch member {
	case "tcbInfo":
		fail = ErrTCBInfoFormat
	case "enclaveIdentity":
		fail = ErrQEIdentityFormat
	}
	members, err := topLevelMembers(body)
	if err != nil {
		return nil, nil, fail.Wrapf("response body: %v", err)
	}
	m, ok := members[member]
	if !ok {
		return nil, nil, fail.Wrapf("response body has no %q member", member)
	}
	if len(m) == 0 || m[0] != '{' {
		return nil, nil, fail.Wrapf("response member %q is not an object", member)
	}
	s, ok := members["signature"]
	if !ok {
		return nil, nil, fail.Wrapf("response body has no \"signature\" member")
	}
	var sigHex string
	if err := json.Unmarshal(s, &sigHex); err != nil {
		return nil, nil, fail.Wrapf("response member \"signature\" is not a string")
	}
	if len(sigHex) != 128 {
		return nil, nil, fail.Wrapf("response member \"signature\" must be 128 hex digits, has %d characters", len(sigHex))
	}
	signature, err = hex.DecodeString(sigHex)
	if err != nil {
		return nil, nil, fail.Wrapf("response member \"signature\" is not hex: %v", err)
	}
	return bytes.Clone(m), signature, nil
}

// topLevelMembers returns the raw value bytes of each member of the JSON
// object in body, first occurrence per name.
func topLevelMembers(body []byte) (map[string]json.RawMessage, error) {
	body = trimTrailingNULAndSpace(body)
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		key, ok := kt.(string)
		if !ok {
			return nil, errors.New("not JSON: object member name is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		if _, dup := out[key]; !dup {
			out[key] = v
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	return out, nil
}

func trimTrailingNULAndSpace(b []byte) []byte {
	return bytes.TrimRight(b, "\x00 \t\r\n")
}
