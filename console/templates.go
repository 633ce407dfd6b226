package console

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

// Templates returns the policies avow ships: the Always Encrypted
// recommendation, and the default policy of each attestation type the
// server serves (defaults maps a type's name to its default policy).
func Templates(types []Type) []Template {
	out := []Template{
		{Name: "Always Encrypted (recommended, condensed)", Type: "SgxEnclave", Text: AlwaysEncryptedCondensed,
			Description: "Microsoft's recommended policy for SQL Server Always Encrypted with SGX enclaves: not debuggable, product id 4639, SVN ≥ 2, SQL Server's MRSIGNER."},
		{Name: "Always Encrypted (recommended, full form)", Type: "SgxEnclave", Text: AlwaysEncryptedFull,
			Description: "The same policy with its authorizationrules section written out."},
	}
	for _, t := range types {
		out = append(out, Template{Name: t.Name + " default", Type: t.Name, Text: t.DefaultPolicy,
			Description: "The policy a provider evaluates for " + t.Name + " until one is set."})
	}
	return out
}
