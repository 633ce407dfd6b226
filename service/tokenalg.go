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
	var alg string
	if !extraMember(s.Extra, tokenAlgorithmMember, &alg) || !token.ValidAlg(alg) {
		return token.AlgRS256
	}
	return alg
}

// withTokenAlgorithm sets the tokenAlgorithm member of Extra (RS256, the
// default, removes it), keeping the other members.
func withTokenAlgorithm(extra json.RawMessage, alg string) (json.RawMessage, error) {
	if alg == token.AlgRS256 {
		return withExtraMember(extra, tokenAlgorithmMember, nil)
	}
	return withExtraMember(extra, tokenAlgorithmMember, alg)
}
