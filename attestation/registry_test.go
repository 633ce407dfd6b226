package attestation_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/builtin"
)

type fake struct{ name, field string }

func (f fake) Name() string          { return f.name }
func (f fake) EvidenceField() string { return f.field }
func (fake) DefaultPolicy() string   { return "version= 1.0; authorizationrules{ => permit(); };" }
func (fake) Parse([]byte) (attestation.Evidence, error) {
	return nil, nil
}
func (fake) Verify(context.Context, attestation.Evidence, attestation.Env) (*attestation.Verified, error) {
	return nil, nil
}
func (fake) Claims(*attestation.Verified, *attestation.Data, *attestation.Data) (map[string]any, error) {
	return nil, nil
}

func TestRegistry(t *testing.T) {
	r := builtin.Registry()
	if got, want := r.Names(), []string{"SgxEnclave", "OpenEnclave", "SevSnpVm", "TdxVm", "NvidiaGpu"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names %v, want %v", got, want)
	}
	for in, want := range map[string]string{"sgxenclave": "SgxEnclave", "OPENENCLAVE": "OpenEnclave", "TdxVm": "TdxVm", "tdxvm": "TdxVm", "sevsnpvm": "SevSnpVm"} {
		typ, ok := r.Lookup(in)
		if !ok || typ.Name() != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", in, typ, ok, want)
		}
	}
	for _, in := range []string{"", "Tpm", "Gpu", "sgx"} {
		if typ, ok := r.Lookup(in); ok {
			t.Errorf("Lookup(%q) = %s", in, typ.Name())
		}
	}
	if err := r.Register(fake{"tdxVM", "quote"}); err == nil {
		t.Error("a second TdxVm (other case) was registered")
	}
	if err := r.Register(fake{"Gpu", "certificate"}); err == nil {
		t.Error("a type with an unknown evidence field was registered")
	}
	if err := r.Register(fake{"", "quote"}); err == nil {
		t.Error("a type without a name was registered")
	}
	if err := r.Register(fake{"Gpu", "report"}); err != nil {
		t.Fatal(err)
	}
	if typ, ok := r.Lookup("gpu"); !ok || typ.EvidenceField() != "report" {
		t.Errorf("a registered type is not found: %v %v", typ, ok)
	}
	var nilReg *attestation.Registry
	if _, ok := nilReg.Lookup("SgxEnclave"); ok || nilReg.Names() != nil {
		t.Error("a nil registry has types")
	}
}

func TestForToken(t *testing.T) {
	c := map[string]any{
		"x-ms-sgx-advisory-ids": []any{"INTEL-SA-00001", "INTEL-SA-00002"},
		"attester_advisory_ids": []any{},
		"x-ms-runtime":          map[string]any{"keys": []any{"a"}},
		"n":                     1,
	}
	attestation.ForToken(c)
	want := map[string]any{
		"x-ms-sgx-advisory-ids": "INTEL-SA-00001,INTEL-SA-00002",
		"attester_advisory_ids": "",
		"x-ms-runtime":          map[string]any{"keys": []any{"a"}},
		"n":                     1,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ForToken: %v, want %v", c, want)
	}
}

func BenchmarkLookup(b *testing.B) {
	r := builtin.Registry()
	for b.Loop() {
		if _, ok := r.Lookup("TdxVm"); !ok {
			b.Fatal("no TdxVm")
		}
	}
}
