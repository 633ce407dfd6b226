// Package sgx is the SgxEnclave and OpenEnclave attestation types: an
// Intel SGX ECDSA quote (for OpenEnclave, inside Open Enclave's 16-byte
// report header), verified with Intel DCAP collateral, with MAA's SGX
// claims (maa.md §2.3).
package sgx

import (
	"context"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/dcapquote"
)

// MAA's names of the types.
const (
	NameSgxEnclave  = "SgxEnclave"
	NameOpenEnclave = "OpenEnclave"
)

// DefaultPolicy is MAA's documented default policy for SgxEnclave and
// OpenEnclave (../shared/spec/maa.md §3.7).
const DefaultPolicy = `version= 1.1;
configurationrules{
	=> issueproperty(type="x-ms-sgx-tcbidentifier", value="azuredefault");
};
authorizationrules{
	=> permit();
};
issuancerules{
	c:[type=="x-ms-sgx-is-debuggable"] => issue(type="is-debuggable", value=c.value);
	c:[type=="x-ms-sgx-mrsigner"] => issue(type="sgx-mrsigner", value=c.value);
	c:[type=="x-ms-sgx-mrenclave"] => issue(type="sgx-mrenclave", value=c.value);
	c:[type=="x-ms-sgx-product-id"] => issue(type="product-id", value=c.value);
	c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value);
	c:[type=="x-ms-attestation-type"] => issue(type="tee", value=c.value);
};
`

// SgxEnclave attests a raw SGX quote sent as "quote".
type SgxEnclave struct{}

// OpenEnclave attests an Open Enclave remote report sent as "report".
type OpenEnclave struct{}

var (
	_ attestation.Type = SgxEnclave{}
	_ attestation.Type = OpenEnclave{}
)

func (SgxEnclave) Name() string          { return NameSgxEnclave }
func (SgxEnclave) EvidenceField() string { return "quote" }
func (SgxEnclave) DefaultPolicy() string { return DefaultPolicy }

// TCBFamily is "sgx": SGX quotes are judged against a TCB baseline of the
// service's SGX collateral (attestation.TCBBaselined).
func (SgxEnclave) TCBFamily() string { return "sgx" }

func (SgxEnclave) Parse(raw []byte) (attestation.Evidence, error) {
	return dcapquote.Parse(raw, NameSgxEnclave, false, false)
}

func (SgxEnclave) Verify(ctx context.Context, ev attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	return dcapquote.Verify(ctx, ev, env)
}

func (SgxEnclave) Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	return dcapquote.Claims(v, runtime, initTime)
}

func (OpenEnclave) Name() string          { return NameOpenEnclave }
func (OpenEnclave) EvidenceField() string { return "report" }
func (OpenEnclave) DefaultPolicy() string { return DefaultPolicy }

// TCBFamily is "sgx" (attestation.TCBBaselined).
func (OpenEnclave) TCBFamily() string { return "sgx" }

func (OpenEnclave) Parse(raw []byte) (attestation.Evidence, error) {
	return dcapquote.Parse(raw, NameOpenEnclave, true, false)
}

func (OpenEnclave) Verify(ctx context.Context, ev attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	return dcapquote.Verify(ctx, ev, env)
}

func (OpenEnclave) Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	return dcapquote.Claims(v, runtime, initTime)
}
