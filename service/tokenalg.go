package service

import (
	"encoding/json"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// The provider setting tokenAlgorithm is kept in store.Settings.Extra as
// {"tokenAlgorithm": "ES256"}; absent means RS256, MAA's algorithm.
const tokenAlgorithmMember = "tokenAlgorithm"

// TokenAlgorithm returns the token signing algorithm of a provider's
// settings: RS256 (the default, as MAA) or ES256.
func TokenAlgorithm(s store.Settings) string {
	if len(s.Extra) == 0 {
		return token.AlgRS256
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(s.Extra, &m) != nil {
		return token.AlgRS256
	}
	var alg string
	if json.Unmarshal(m[tokenAlgorithmMember], &alg) != nil || !token.ValidAlg(alg) {
		return token.AlgRS256
	}
	return alg
}

// withTokenAlgorithm sets the tokenAlgorithm member of Extra, keeping the
// other members.
func withTokenAlgorithm(extra json.RawMessage, alg string) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &m); err != nil || m == nil {
			m = map[string]json.RawMessage{}
		}
	}
	if alg == token.AlgRS256 {
		delete(m, tokenAlgorithmMember)
	} else {
		b, _ := json.Marshal(alg)
		m[tokenAlgorithmMember] = b
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}
