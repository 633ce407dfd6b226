package console

import "github.com/avowhq/avow/service"

// Template is a policy the console offers to start from.
type Template struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // the attestation type it is written for
	Description string `json:"description"`
	Text        string `json:"text"`
}

// AlwaysEncryptedCondensed is the policy Microsoft publishes for Always
// Encrypted with secure enclaves, in the condensed form its documentation
// shows (the same text as avow quickstart's; a test compares it with
// alwaysencrypted/aesim.RecommendedPolicy).
const AlwaysEncryptedCondensed = `version= 1.0;
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==4639 ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
        && [ type=="x-ms-sgx-mrsigner", value=="e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"] 
    => permit();
`

// AlwaysEncryptedFull is the same policy with its authorizationrules
// section written out.
const AlwaysEncryptedFull = `version= 1.0;
authorizationrules
{
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==4639 ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
        && [ type=="x-ms-sgx-mrsigner", value=="e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"]
    => permit();
};
`

// Templates returns the policies avow ships.
func Templates() []Template {
	return []Template{
		{Name: "Always Encrypted (recommended, condensed)", Type: service.TypeSgxEnclave, Text: AlwaysEncryptedCondensed,
			Description: "Microsoft's recommended policy for SQL Server Always Encrypted with SGX enclaves: not debuggable, product id 4639, SVN ≥ 2, SQL Server's MRSIGNER."},
		{Name: "Always Encrypted (recommended, full form)", Type: service.TypeSgxEnclave, Text: AlwaysEncryptedFull,
			Description: "The same policy with its authorizationrules section written out."},
		{Name: "SGX default", Type: service.TypeSgxEnclave, Text: service.DefaultPolicy(service.TypeSgxEnclave),
			Description: "avow's (and MAA's) default SGX policy: permits every verified enclave and issues its identity claims."},
		{Name: "TDX default", Type: service.TypeTdxVm, Text: service.DefaultPolicy(service.TypeTdxVm),
			Description: "avow's default TdxVm policy: an authorization-only permit."},
	}
}
