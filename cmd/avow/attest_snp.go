package main

import (
	"bytes"
	"encoding/pem"
	"errors"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/snp"
)

// looksSNP tells SEV-SNP evidence files apart from quotes: JSON with an
// SNP report in it, or an Azure HCL report.
func looksSNP(b []byte) bool {
	t := bytes.TrimSpace(b)
	return bytes.HasPrefix(t, []byte("HCLA")) ||
		(bytes.HasPrefix(t, []byte("{")) && (bytes.Contains(t, []byte(`"SnpReport"`)) || bytes.Contains(t, []byte(`"report"`))))
}

// snpEvidence makes the "report" member of a SevSnpVm request from SEV-SNP
// evidence in any form snp.Parse reads.
func snpEvidence(b []byte) (string, []byte, error) {
	ev, err := snp.Parse(b)
	if err != nil {
		return "", nil, err
	}
	if ev.Kind == snp.KindReportJSON {
		return client.TypeSevSnpVm, bytes.TrimSpace(b), nil
	}
	if len(ev.Certs) == 0 && ev.Kind != snp.KindReport {
		return "", nil, errors.New("the evidence carries no VCEK")
	}
	var chain bytes.Buffer
	for _, der := range ev.Certs {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return client.TypeSevSnpVm, client.SevSnpReport(ev.Report.Raw, chain.Bytes()), nil
}
