package snp

import (
	"strings"

	"github.com/avowhq/avow/claims"
)

// AddDataClaims adds the claims of the evidence's runtime and init-time
// data: JSON data becomes x-ms-runtime / x-ms-inittime (the parsed object),
// as MAA issues them; binary data adds no claim (MAA's x-ms-sgx-ehd is
// SGX's). The bindings are Verify's.
func AddDataClaims(c map[string]any, ev *Evidence) error {
	if d := ev.RuntimeData; d != nil && strings.EqualFold(d.DataType, claims.DataTypeJSON) {
		if err := claims.AddRuntimeData(c, d.Bytes, claims.DataTypeJSON); err != nil {
			return err
		}
	}
	if d := ev.InitTimeData; d != nil && strings.EqualFold(d.DataType, claims.DataTypeJSON) {
		if err := claims.AddInitTimeData(c, d.Bytes, claims.DataTypeJSON); err != nil {
			return err
		}
	}
	return nil
}
