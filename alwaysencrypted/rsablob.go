package alwaysencrypted

import (
	"crypto/rsa"
	"fmt"
	"math/big"
)

// RSA key blob (BCRYPT_RSAKEY_BLOB) constants.
const (
	// rsa1Magic is BCRYPT_RSAPUBLIC_MAGIC, "RSA1" little-endian.
	rsa1Magic uint32 = 0x31415352
	// rsaBlobHeader: magic, bit length, cbPublicExp, cbModulus, cbPrime1,
	// cbPrime2.
	rsaBlobHeader = 24
	// SqlClientRSABlobSize is the only RSA key blob size SqlClient on .NET
	// Core reads correctly: header, 3-byte exponent, 512-byte modulus.
	SqlClientRSABlobSize = 539
	// MaxRSAModulusBytes bounds the modulus ParseRSAKeyBlob accepts (16384
	// bits).
	MaxRSAModulusBytes = 2048
	// minRSABits is the smallest modulus crypto/rsa verifies with.
	minRSABits = 1024
)

// MarshalRSAKeyBlob returns the BCRYPT_RSAKEY_BLOB of pub: "RSA1", the bit
// length, cbPublicExp (the exponent's minimal big-endian length: 3 for
// 65537), cbModulus, two zero prime lengths, the exponent and the modulus
// big-endian. A 4096-bit key with exponent 65537 gives the 539 bytes
// SqlClient expects.
func MarshalRSAKeyBlob(pub *rsa.PublicKey) []byte {
	e := big.NewInt(int64(pub.E)).Bytes()
	n := pub.N.FillBytes(make([]byte, pub.Size()))
	b := make([]byte, 0, rsaBlobHeader+len(e)+len(n))
	b = le.AppendUint32(b, rsa1Magic)
	b = le.AppendUint32(b, uint32(pub.N.BitLen()))
	b = le.AppendUint32(b, uint32(len(e)))
	b = le.AppendUint32(b, uint32(len(n)))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = append(b, e...)
	return append(b, n...)
}

// ParseRSAKeyBlob reads a BCRYPT_RSAKEY_BLOB public key generically, from
// the lengths in its header, as JDBC and SqlClient on .NET Framework do:
// magic "RSA1", cbPublicExp 1 to 4 and cbModulus 1 to MaxRSAModulusBytes
// checked against the bytes present, cbPrime1 = cbPrime2 = 0, the bit
// length equal to the modulus's, a modulus of at least 1024 bits, an odd
// exponent of at least 3, and nothing after the modulus
// (ErrRSAKeyInvalid). See CheckSqlClientRSAShape for SqlClient on .NET
// Core's narrower reading.
func ParseRSAKeyBlob(b []byte) (*rsa.PublicKey, error) {
	pub, err := parseRSAKeyBlob(b)
	if err != nil {
		return nil, ErrRSAKeyInvalid.Wrap(err)
	}
	return pub, nil
}

func parseRSAKeyBlob(b []byte) (*rsa.PublicKey, error) {
	if len(b) < rsaBlobHeader {
		return nil, fmt.Errorf("%d bytes, shorter than the %d-byte header", len(b), rsaBlobHeader)
	}
	if m := le.Uint32(b); m != rsa1Magic {
		return nil, fmt.Errorf("magic % x, want 52 53 41 31 (RSA1)", b[:4])
	}
	bits, cbExp, cbMod := le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	if p1, p2 := le.Uint32(b[16:]), le.Uint32(b[20:]); p1 != 0 || p2 != 0 {
		return nil, fmt.Errorf("prime lengths %d and %d in a public key blob, want 0", p1, p2)
	}
	if cbExp == 0 || cbExp > 4 {
		return nil, fmt.Errorf("exponent length %d: must be 1 to 4", cbExp)
	}
	if cbMod == 0 || cbMod > MaxRSAModulusBytes {
		return nil, fmt.Errorf("modulus length %d: must be 1 to %d", cbMod, MaxRSAModulusBytes)
	}
	if want := rsaBlobHeader + int(cbExp) + int(cbMod); len(b) != want {
		return nil, fmt.Errorf("%d bytes, the header announces %d", len(b), want)
	}
	var e int64
	for _, c := range b[rsaBlobHeader : rsaBlobHeader+cbExp] {
		e = e<<8 | int64(c)
	}
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, fmt.Errorf("exponent %d is not a valid RSA public exponent", e)
	}
	n := new(big.Int).SetBytes(b[rsaBlobHeader+cbExp:])
	if n.BitLen() != int(bits) {
		return nil, fmt.Errorf("bit length %d, but the modulus has %d bits", bits, n.BitLen())
	}
	if n.BitLen() < minRSABits {
		return nil, fmt.Errorf("a %d-bit modulus; at least %d bits are required", n.BitLen(), minRSABits)
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}

// CheckSqlClientRSAShape checks the one shape SqlClient on .NET Core reads:
// 539 bytes, bit length 4096, cbPublicExp 3, cbModulus 512 (the exponent at
// offset 24, the modulus at 27). Any other shape is ErrRSAKeyShape, even
// when ParseRSAKeyBlob (JDBC, .NET Framework) accepts it.
func CheckSqlClientRSAShape(b []byte) error {
	if len(b) != SqlClientRSABlobSize {
		return ErrRSAKeyShape.Wrapf("%d bytes", len(b))
	}
	if bits, cbExp, cbMod := le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:]); bits != 4096 || cbExp != 3 || cbMod != 512 {
		return ErrRSAKeyShape.Wrapf("%d-bit key, %d-byte exponent, %d-byte modulus", bits, cbExp, cbMod)
	}
	return nil
}
