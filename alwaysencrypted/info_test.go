package alwaysencrypted

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// sampleInfo is a well-formed SGX info blob with dummy contents.
func sampleInfo() *Info {
	dh := append(bytes.Clone(eck3Header), bytes.Repeat([]byte{7}, 96)...)
	return &Info{
		EnclaveType: EnclaveSGX,
		Identity:    bytes.Repeat([]byte{0xaa}, SqlClientRSABlobSize),
		Token:       "eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln",
		SessionID:   -42,
		DHKey:       dh,
		DHSignature: bytes.Repeat([]byte{0x55}, 512),
	}
}

func TestInfoRoundTrip(t *testing.T) {
	in := sampleInfo()
	b := in.Marshal()
	if got := le.Uint32(b); int(got) != len(b) {
		t.Errorf("total size %d, blob %d", got, len(b))
	}
	// The session info size is what SQL Server sends: 8+4+4+104+512 = 632.
	if got := le.Uint32(b[16+539+len(in.Token):]); got != 632 {
		t.Errorf("session info size %d, want 632", got)
	}
	out, err := ParseInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.EnclaveType != EnclaveSGX || out.SessionID != -42 || out.Token != in.Token || !bytes.Equal(out.Identity, in.Identity) ||
		!bytes.Equal(out.DHKey, in.DHKey) || !bytes.Equal(out.DHSignature, in.DHSignature) {
		t.Errorf("round trip %+v", out)
	}
	b[16] ^= 0xff
	if out.Identity[0] != 0xaa {
		t.Error("the parsed info aliases the input")
	}
	// The total size is read, not checked (neither driver checks it).
	b = in.Marshal()
	le.PutUint32(b, 1)
	if _, err := ParseInfo(b); err != nil {
		t.Errorf("total size 1: %v", err)
	}
}

func TestInfoTokenTrimming(t *testing.T) {
	for raw, want := range map[string]string{
		" \r\n\ttok.en.sig \n":   "tok.en.sig",
		`"tok.en.sig"`:           "tok.en.sig",
		" \"tok.en.sig\"\x00 ":   "tok.en.sig",
		`""tok.en.sig""`:         `"tok.en.sig"`, // one pair only
		`"tok.en.sig`:            `"tok.en.sig`,
		"\u00a0tok.en.sig\u3000": "tok.en.sig",
	} {
		in := sampleInfo()
		in.Token = raw
		out, err := ParseInfo(in.Marshal())
		if err != nil || out.Token != want {
			t.Errorf("token %q: got %q, %v; want %q", raw, out.Token, err, want)
		}
	}
}

func TestParseInfoErrors(t *testing.T) {
	good := sampleInfo().Marshal()
	tokLen := len(sampleInfo().Token)
	si := 16 + 539 + tokLen // session info size field
	dhOff := si + 4 + 8     // DH size field
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	put := func(off int, v uint32) []byte { return mod(func(b []byte) { le.PutUint32(b[off:], v) }) }
	cases := []struct {
		name string
		b    []byte
		code error
		want string
	}{
		{"empty", nil, ErrInfoInvalid, "total size"},
		{"header only", good[:12], ErrInfoInvalid, "enclave type"},
		{"enclave type 0", put(12, 0), ErrEnclaveTypeUnsupported, "enclave type 0"},
		{"enclave type 3", put(12, 3), ErrEnclaveTypeUnsupported, "enclave type 3"},
		{"identity size 0", put(4, 0), ErrInfoInvalid, "identity size 0"},
		{"identity size absurd", put(4, 0xffffffff), ErrInfoInvalid, "identity size 4294967295"},
		{"identity beyond the blob", put(4, MaxIdentitySize), ErrInfoInvalid, "identity at offset 16"},
		{"token size 0", put(8, 0), ErrInfoInvalid, "token size 0"},
		{"token size absurd", put(8, MaxTokenSize+1), ErrInfoInvalid, "token size"},
		{"token beyond the blob", put(8, uint32(len(good))), ErrInfoInvalid, "token at offset"},
		{"blank token", mod(func(b []byte) { copy(b[16+539:], strings.Repeat(" ", tokLen)) }), ErrInfoInvalid, "empty"},
		{"quotes only", func() []byte { in := sampleInfo(); in.Token = `""`; return in.Marshal() }(), ErrInfoInvalid, "empty"},
		{"session info size short", put(si, 631), ErrInfoInvalid, "session info size 631, but 632"},
		{"session info size long", put(si, 633), ErrInfoInvalid, "session info size 633"},
		{"truncated in session info", good[:si+2], ErrInfoInvalid, "session info size"},
		{"DH size 103", put(dhOff, 103), ErrDHKeyMalformed, "DH key size is 103"},
		{"DH size 0", put(dhOff, 0), ErrDHKeyMalformed, "DH key size is 0"},
		{"DH magic", mod(func(b []byte) { b[dhOff+8] = 'E' + 1 }), ErrDHKeyMalformed, "header"},
		{"DH key size field 32", mod(func(b []byte) { b[dhOff+8+4] = 0x20 }), ErrDHKeyMalformed, "header"},
		{"signature size 0", put(dhOff+4, 0), ErrInfoInvalid, "signature size 0"},
		{"signature size absurd", put(dhOff+4, 1<<31), ErrInfoInvalid, "signature size"},
		{"truncated signature", mod(func(b []byte) { le.PutUint32(b[si:], 631) })[:len(good)-1], ErrInfoInvalid, "DH signature at offset"},
		{"trailing byte", mod(func(b []byte) {}), ErrInfoInvalid, "after the DH signature"},
		{"too large", make([]byte, MaxInfoSize+1), ErrInfoInvalid, "more than"},
	}
	// "trailing byte": one more byte after the signature, with the session
	// info size counting it so that only the final check can catch it.
	cases[22].b = append(bytes.Clone(good), 0)
	le.PutUint32(cases[22].b[si:], 633)
	for _, c := range cases {
		_, err := ParseInfo(c.b)
		if !errors.Is(err, c.code) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v mentioning %q", c.name, err, c.code, c.want)
		}
	}
}

func TestMaskIdentity(t *testing.T) {
	key := bytes.Repeat([]byte{0x0f}, 539)
	nonce := goldenNonce()
	m := MaskIdentity(key, nonce)
	if m[0] != 0x0f || m[1] != 0x0e || m[256] != 0x0f || m[538] != 0x0f^byte(538%256) {
		t.Errorf("mask % x", m[:4])
	}
	if !bytes.Equal(UnmaskIdentity(m, nonce), key) {
		t.Error("unmask does not invert mask")
	}
}
