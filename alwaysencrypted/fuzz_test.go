package alwaysencrypted

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// The fuzz targets check that the parsers never panic, never accept more
// than their bounds, and that what they accept survives a round trip.

func FuzzParseParams(f *testing.F) {
	p, err := NewParamsWith(goldenURL, goldenNonce(), goldenKey(f))
	if err != nil {
		f.Fatal(err)
	}
	good := p.Marshal()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseParams(b)
		if err != nil {
			return
		}
		if len(p.Nonce) != NonceSize || p.PublicKey == nil || p.URL == "" {
			t.Fatalf("accepted %+v", p)
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("accepted bytes do not re-marshal to themselves")
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	good := sampleInfo().Marshal()
	f.Add(good)
	f.Add(good[:100])
	f.Add(append(bytes.Clone(good), 1, 2, 3))
	vbs := sampleInfo()
	vbs.EnclaveType, vbs.Token = EnclaveVBS, ` "a.b.c" `
	f.Add(vbs.Marshal())
	f.Add([]byte{0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseInfo(b)
		if err != nil {
			return
		}
		if info.EnclaveType != EnclaveVBS && info.EnclaveType != EnclaveSGX {
			t.Fatalf("enclave type %d accepted", info.EnclaveType)
		}
		if len(info.Identity) == 0 || len(info.Identity) > MaxIdentitySize || info.Token == "" || len(info.Token) > MaxTokenSize ||
			len(info.DHKey) != ECDHKeySize || len(info.DHSignature) == 0 || len(info.DHSignature) > MaxSignatureSize {
			t.Fatalf("sizes out of bounds accepted: %d %d %d %d", len(info.Identity), len(info.Token), len(info.DHKey), len(info.DHSignature))
		}
		if trimToken(info.Token) == "" {
			return // a token such as `""` trims to nothing when read again
		}
		again, err := ParseInfo(info.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Token != info.Token && again.Token != trimToken(info.Token) {
			t.Fatalf("token %q became %q", info.Token, again.Token)
		}
		if !bytes.Equal(again.Identity, info.Identity) || again.SessionID != info.SessionID ||
			!bytes.Equal(again.DHKey, info.DHKey) || !bytes.Equal(again.DHSignature, info.DHSignature) {
			t.Fatal("round trip changed the blob")
		}
	})
}

func FuzzParseRSAKeyBlob(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	good := MarshalRSAKeyBlob(&k.PublicKey)
	f.Add(good)
	f.Add(good[:30])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte("RSA1\x00\x10\x00\x00\x03\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParseRSAKeyBlob(b)
		if err != nil {
			return
		}
		if pub.N.BitLen() < minRSABits || pub.N.BitLen() > 8*MaxRSAModulusBytes || pub.E < 3 || pub.E%2 == 0 {
			t.Fatalf("accepted a %d-bit key with exponent %d", pub.N.BitLen(), pub.E)
		}
		back, err := ParseRSAKeyBlob(MarshalRSAKeyBlob(pub))
		if err != nil || !back.Equal(pub) {
			t.Fatalf("round trip: %v", err)
		}
		if CheckSqlClientRSAShape(b) == nil && len(b) != SqlClientRSABlobSize {
			t.Fatal("shape check accepted another size")
		}
	})
}
