package attestation

import "strings"

// ForToken makes claims fit for a token once the policy has seen them: the
// claims whose names start with "$" (MAA's 2020 names, given to SGX policies
// only; claims.AddPolicyAliases) are removed, and no claim at the top level
// is a JSON array. Microsoft.Data.SqlClient (and
// other .NET relying parties) load a token's claims into a dictionary,
// where an array becomes several claims of one type and validation throws;
// MAA's own tokens carry none. A list of strings that a policy reads as a
// JSON array (advisory ids) becomes one string, the strings joined with
// commas ("" for an empty list).
func ForToken(c map[string]any) {
	for k, v := range c {
		if strings.HasPrefix(k, "$") {
			delete(c, k)
			continue
		}
		list, ok := v.([]any)
		if !ok {
			continue
		}
		parts := make([]string, 0, len(list))
		for _, e := range list {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
			}
		}
		c[k] = strings.Join(parts, ",")
	}
}
