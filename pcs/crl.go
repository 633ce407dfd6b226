package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
)

// CRLBytes normalises a CRL to DER. Like QvE it accepts PEM
// ("-----BEGIN X509 CRL-----"), hex text of DER, or DER itself.
func CRLBytes(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN X509 CRL-----")) {
		block, _ := pem.Decode(trimmed)
		if block == nil || block.Type != "X509 CRL" {
			return nil, errors.New("CRL PEM block cannot be decoded")
		}
		return block.Bytes, nil
	}
	if len(trimmed) > 0 && len(trimmed)%2 == 0 && isHex(trimmed) {
		der := make([]byte, len(trimmed)/2)
		if _, err := hex.Decode(der, trimmed); err != nil {
			return nil, err
		}
		return der, nil
	}
	if len(data) == 0 {
		return nil, errors.New("CRL is empty")
	}
	return data, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
