package pcs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestPCKExtensionsVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			cert := pckCert(t, s)
			ext, err := ParsePCKExtensions(cert)
			if err != nil {
				t.Fatal(err)
			}
			platform := strings.Contains(cert.Issuer.CommonName, "Platform CA")
			if platform != (ext.Configuration != nil) || platform != (len(ext.PlatformInstanceID) == 16) {
				t.Errorf("issuer %q: configuration %v, instance id %x", cert.Issuer.CommonName, ext.Configuration, ext.PlatformInstanceID)
			}
			if ext.SGXType < 0 || ext.SGXType > 2 {
				t.Errorf("SGX type %d", ext.SGXType)
			}
			// The value parser agrees with the certificate parser.
			for _, e := range cert.Extensions {
				if e.Id.Equal(OIDSGXExtensions) {
					v, err := ParsePCKExtensionValue(e.Value)
					if err != nil {
						t.Fatal(err)
					}
					if v.FMSPC != ext.FMSPC || v.TCBComponents != ext.TCBComponents || v.PCESVN != ext.PCESVN || v.CPUSVN != ext.CPUSVN || v.PPID != ext.PPID {
						t.Error("value parse differs")
					}
				}
			}
			// For real platforms the component SVNs equal the CPUSVN bytes
			// (they usually coincide, dcap.md §2.6).
			if s.setID() != "S22" && ext.TCBComponents != ext.CPUSVN {
				t.Logf("components %x differ from CPUSVN %x", ext.TCBComponents, ext.CPUSVN)
			}
		})
	}
}

// Builders for synthetic extension values.

func sgxOID(n ...int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, OIDSGXExtensions...), n...)
}

func der(t testing.TB, v any) asn1.RawValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{FullBytes: b}
}

func seqOf(items ...asn1.RawValue) asn1.RawValue {
	var body []byte
	for _, it := range items {
		body = append(body, it.FullBytes...)
	}
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	return asn1.RawValue{FullBytes: b}
}

func pairOf(t testing.TB, oid asn1.ObjectIdentifier, v asn1.RawValue) asn1.RawValue {
	return seqOf(der(t, oid), v)
}

type extSpec struct {
	outer []asn1.RawValue // entries .1 … .5 (.6, .7)
	tcb   []asn1.RawValue // entries .2.1 … .2.18
}

func defaultSpec(t testing.TB, platform bool) *extSpec {
	s := &extSpec{}
	for i := 1; i <= 16; i++ {
		s.tcb = append(s.tcb, pairOf(t, sgxOID(2, i), der(t, i*10)))
	}
	s.tcb = append(s.tcb, pairOf(t, sgxOID(2, 17), der(t, 13)))
	s.tcb = append(s.tcb, pairOf(t, sgxOID(2, 18), der(t, make([]byte, 16))))
	s.outer = []asn1.RawValue{
		pairOf(t, sgxOID(1), der(t, make([]byte, 16))),
		{}, // TCB, built in encode
		pairOf(t, sgxOID(3), der(t, []byte{0, 0})),
		pairOf(t, sgxOID(4), der(t, []byte{0xB0, 0xC0, 0x6F, 0, 0, 0})),
		pairOf(t, sgxOID(5), der(t, asn1.Enumerated(1))),
	}
	if platform {
		s.outer = append(s.outer,
			pairOf(t, sgxOID(6), der(t, make([]byte, 16))),
			pairOf(t, sgxOID(7), seqOf(
				pairOf(t, sgxOID(7, 1), der(t, false)),
				pairOf(t, sgxOID(7, 2), der(t, true)),
				pairOf(t, sgxOID(7, 3), der(t, true)),
			)))
	}
	return s
}

func (s *extSpec) encode(t testing.TB) []byte {
	outer := append([]asn1.RawValue(nil), s.outer...)
	for i, e := range outer {
		if e.FullBytes == nil {
			outer[i] = pairOf(t, sgxOID(2), seqOf(s.tcb...))
		}
	}
	return seqOf(outer...).FullBytes
}

func TestPCKExtensionValueRules(t *testing.T) {
	cases := []struct {
		name     string
		platform bool
		mut      func(t testing.TB, s *extSpec)
		msg      string // "" = success
	}{
		{"processor ok", false, func(testing.TB, *extSpec) {}, ""},
		{"platform ok", true, func(testing.TB, *extSpec) {}, ""},
		{"entries reordered ok", false, func(t testing.TB, s *extSpec) { s.outer[0], s.outer[4] = s.outer[4], s.outer[0] }, ""},
		{"tcb reordered ok", false, func(t testing.TB, s *extSpec) { s.tcb[0], s.tcb[17] = s.tcb[17], s.tcb[0] }, ""},
		{"unknown entries count and are ignored", false, func(t testing.TB, s *extSpec) {
			s.outer = append(s.outer, pairOf(t, sgxOID(9), der(t, 1)), pairOf(t, asn1.ObjectIdentifier{1, 2, 3}, der(t, "x")))
		}, ""},
		{"4 entries", false, func(t testing.TB, s *extSpec) { s.outer = s.outer[:4] }, "4 entries"},
		{"6 entries", false, func(t testing.TB, s *extSpec) {
			s.outer = append(s.outer, pairOf(t, sgxOID(6), der(t, make([]byte, 16))))
		}, "6 entries"},
		{"8 entries", true, func(t testing.TB, s *extSpec) { s.outer = append(s.outer, pairOf(t, sgxOID(9), der(t, 1))) }, "8 entries"},
		{"PPID missing (5 with a duplicate)", false, func(t testing.TB, s *extSpec) { s.outer[0] = s.outer[2] }, ".1 (PPID) is missing"},
		{"PPID 15 bytes", false, func(t testing.TB, s *extSpec) { s.outer[0] = pairOf(t, sgxOID(1), der(t, make([]byte, 15))) }, "15 bytes, want 16"},
		{"PPID as INTEGER", false, func(t testing.TB, s *extSpec) { s.outer[0] = pairOf(t, sgxOID(1), der(t, 5)) }, "not an OCTET STRING"},
		{"PCE-ID 3 bytes", false, func(t testing.TB, s *extSpec) { s.outer[2] = pairOf(t, sgxOID(3), der(t, make([]byte, 3))) }, "(PCE-ID) has 3 bytes"},
		{"FMSPC 5 bytes", false, func(t testing.TB, s *extSpec) { s.outer[3] = pairOf(t, sgxOID(4), der(t, make([]byte, 5))) }, "(FMSPC) has 5 bytes"},
		{"SGX type INTEGER", false, func(t testing.TB, s *extSpec) { s.outer[4] = pairOf(t, sgxOID(5), der(t, 0)) }, "not an ENUMERATED"},
		{"entry not a sequence", false, func(t testing.TB, s *extSpec) { s.outer[3] = der(t, 7) }, "entry 3: not a SEQUENCE"},
		{"entry with 3 elements", false, func(t testing.TB, s *extSpec) {
			s.outer[3] = seqOf(der(t, sgxOID(4)), der(t, make([]byte, 6)), der(t, 1))
		}, "3 elements"},
		{"entry without OID", false, func(t testing.TB, s *extSpec) { s.outer[3] = seqOf(der(t, 4), der(t, make([]byte, 6))) }, "OBJECT IDENTIFIER"},
		{"TCB not a sequence", false, func(t testing.TB, s *extSpec) { s.outer[1] = pairOf(t, sgxOID(2), der(t, 1)) }, "(TCB) is not a SEQUENCE"},
		{"TCB 17 entries", false, func(t testing.TB, s *extSpec) { s.tcb = s.tcb[:17] }, "TCB has 17 entries"},
		{"TCB 19 entries", false, func(t testing.TB, s *extSpec) { s.tcb = append(s.tcb, s.tcb[0]) }, "TCB has 19 entries"},
		{"TCB component missing (duplicate)", false, func(t testing.TB, s *extSpec) { s.tcb[4] = s.tcb[3] }, "TCB .2.5 is missing"},
		{"component 256", false, func(t testing.TB, s *extSpec) { s.tcb[0] = pairOf(t, sgxOID(2, 1), der(t, 256)) }, "outside 0…255"},
		{"component -1", false, func(t testing.TB, s *extSpec) { s.tcb[15] = pairOf(t, sgxOID(2, 16), der(t, -1)) }, "outside 0…255"},
		{"component 255 ok", false, func(t testing.TB, s *extSpec) { s.tcb[15] = pairOf(t, sgxOID(2, 16), der(t, 255)) }, ""},
		{"component OCTET STRING", false, func(t testing.TB, s *extSpec) { s.tcb[2] = pairOf(t, sgxOID(2, 3), der(t, []byte{1})) }, "not an INTEGER"},
		{"PCESVN 65536", false, func(t testing.TB, s *extSpec) { s.tcb[16] = pairOf(t, sgxOID(2, 17), der(t, 65536)) }, "outside 0…65535"},
		{"PCESVN huge", false, func(t testing.TB, s *extSpec) {
			s.tcb[16] = pairOf(t, sgxOID(2, 17), der(t, new(big.Int).Lsh(big.NewInt(1), 100)))
		}, "PCESVN"},
		{"CPUSVN 15 bytes", false, func(t testing.TB, s *extSpec) { s.tcb[17] = pairOf(t, sgxOID(2, 18), der(t, make([]byte, 15))) }, "(CPUSVN) has 15 bytes"},
		{"platform instance id 8 bytes", true, func(t testing.TB, s *extSpec) { s.outer[5] = pairOf(t, sgxOID(6), der(t, make([]byte, 8))) }, "has 8 bytes, want 16"},
		{"configuration not a sequence", true, func(t testing.TB, s *extSpec) { s.outer[6] = pairOf(t, sgxOID(7), der(t, true)) }, "(configuration) is not a SEQUENCE"},
		{"configuration missing SMT", true, func(t testing.TB, s *extSpec) {
			s.outer[6] = pairOf(t, sgxOID(7), seqOf(pairOf(t, sgxOID(7, 1), der(t, false)), pairOf(t, sgxOID(7, 2), der(t, true))))
		}, ".7.3 is missing"},
		{"configuration flag not boolean", true, func(t testing.TB, s *extSpec) {
			s.outer[6] = pairOf(t, sgxOID(7), seqOf(pairOf(t, sgxOID(7, 1), der(t, 0)), pairOf(t, sgxOID(7, 2), der(t, true)), pairOf(t, sgxOID(7, 3), der(t, true))))
		}, "not a BOOLEAN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := defaultSpec(t, c.platform)
			c.mut(t, s)
			ext, err := ParsePCKExtensionValue(s.encode(t))
			if c.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ext.TCBComponents[0] != 10 || ext.PCESVN != 13 || ext.SGXType != 1 || ext.FMSPC != [6]byte{0xB0, 0xC0, 0x6F} {
					t.Errorf("values: %+v", ext)
				}
				if c.platform && (ext.Configuration == nil || !ext.Configuration.CachedKeys || ext.Configuration.DynamicPlatform || !ext.Configuration.SMTEnabled) {
					t.Errorf("configuration: %+v", ext.Configuration)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q", c.msg)
			}
			if !errors.Is(err, ErrPCKExtensions) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q: want ErrPCKExtensions mentioning %q", err, c.msg)
			}
		})
	}
	t.Run("not DER", func(t *testing.T) {
		for _, b := range [][]byte{nil, {0x30}, {0x04, 0x00}, []byte("hello")} {
			if _, err := ParsePCKExtensionValue(b); !errors.Is(err, ErrPCKExtensions) {
				t.Errorf("%x: %v", b, err)
			}
		}
	})
	t.Run("trailing bytes after the sequence are ignored", func(t *testing.T) {
		b := append(defaultSpec(t, false).encode(t), 0, 0)
		if _, err := ParsePCKExtensionValue(b); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParsePCKExtensionsPlatformCA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(issuerCN string, value []byte) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: issuerCN}, // self-signed: issuer = subject
			NotBefore:    time.Unix(0, 0),
			NotAfter:     time.Unix(1<<31, 0),
		}
		if value != nil {
			tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDSGXExtensions, Value: value}}
		}
		d, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	processor := defaultSpec(t, false).encode(t)
	platform := defaultSpec(t, true).encode(t)
	if _, err := ParsePCKExtensions(mk("Intel SGX PCK Processor CA", processor)); err != nil {
		t.Errorf("processor: %v", err)
	}
	if _, err := ParsePCKExtensions(mk("Intel SGX PCK Processor CA", platform)); err != nil {
		t.Errorf("processor CA with 7 entries: %v", err)
	}
	if _, err := ParsePCKExtensions(mk("Intel SGX PCK Platform CA", platform)); err != nil {
		t.Errorf("platform: %v", err)
	}
	if _, err := ParsePCKExtensions(mk("Intel SGX PCK Platform CA", processor)); !errors.Is(err, ErrPCKExtensions) {
		t.Errorf("platform CA with 5 entries: %v", err)
	}
	if _, err := ParsePCKExtensions(mk("Intel SGX PCK Processor CA", nil)); err == nil || !strings.Contains(err.Error(), "no SGX extension") {
		t.Errorf("no extension: %v", err)
	}
	if _, err := ParsePCKExtensions(nil); !errors.Is(err, ErrPCKExtensions) {
		t.Errorf("nil: %v", err)
	}
}

func BenchmarkParsePCKExtensions(b *testing.B) {
	sets := loadSets(b)
	cert := pckCert(b, sets[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePCKExtensions(cert); err != nil {
			b.Fatal(err)
		}
	}
}
