package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/quote"
)

func init() { quoteSubcommands = append(quoteSubcommands, newQuoteShowCmd) }

// The JSON printed by `avow quote show` (documented in docs/quote.md).
// Byte arrays are lower-case hex in stored order, integers are numbers.
type quoteShowOutput struct {
	Quote  *quoteShowQuote `json:"quote"`
	Claims map[string]any  `json:"claims"`
}

type quoteShowError struct {
	Error quoteShowErrorBody `json:"error"`
}

type quoteShowErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type quoteShowQuote struct {
	Format           string                  `json:"format"` // sgx-v3, sgx-v4, tdx-v4, sgx-v5, tdx-v5
	OpenEnclave      bool                    `json:"open_enclave"`
	Size             int                     `json:"size"` // bytes of the quote, without an OpenEnclave envelope
	Header           quoteShowHeader         `json:"header"`
	BodyType         int                     `json:"body_type"` // 1 SGX, 2 TDX 1.0, 3 TDX 1.5
	EnclaveReport    *quoteShowEnclaveReport `json:"enclave_report,omitempty"`
	TDReport         *quoteShowTDReport      `json:"td_report,omitempty"`
	SignedRegionSize int                     `json:"signed_region_size"`
	SignatureData    quoteShowSignatureData  `json:"signature_data"`
	TrailingBytes    int                     `json:"trailing_bytes"`
}

type quoteShowHeader struct {
	Version            int    `json:"version"`
	AttestationKeyType int    `json:"attestation_key_type"`
	TEEType            int    `json:"tee_type"` // 0 SGX, 129 (0x81) TDX
	QESVN              int    `json:"qe_svn"`   // v3 only
	PCESVN             int    `json:"pce_svn"`  // v3 only
	QEVendorID         string `json:"qe_vendor_id"`
	UserData           string `json:"user_data"`
}

type quoteShowEnclaveReport struct {
	CPUSVN       string `json:"cpusvn"`
	MiscSelect   int    `json:"miscselect"`
	ISVExtProdID string `json:"isv_ext_prod_id"`
	Attributes   string `json:"attributes"`
	MREnclave    string `json:"mrenclave"`
	MRSigner     string `json:"mrsigner"`
	ConfigID     string `json:"config_id"`
	ISVProdID    int    `json:"isv_prod_id"`
	ISVSVN       int    `json:"isv_svn"`
	ConfigSVN    int    `json:"config_svn"`
	ISVFamilyID  string `json:"isv_family_id"`
	ReportData   string `json:"report_data"`
	Debug        bool   `json:"debug"` // derived: ATTRIBUTES.DEBUG
	KSS          bool   `json:"kss"`   // derived: ATTRIBUTES.KSS
}

type quoteShowTDReport struct {
	TEETCBSVN      string `json:"tee_tcb_svn"`
	MRSeam         string `json:"mrseam"`
	MRSignerSeam   string `json:"mrsignerseam"`
	SeamAttributes string `json:"seam_attributes"`
	TDAttributes   string `json:"td_attributes"`
	XFAM           string `json:"xfam"`
	MRTD           string `json:"mrtd"`
	MRConfigID     string `json:"mrconfigid"`
	MROwner        string `json:"mrowner"`
	MROwnerConfig  string `json:"mrownerconfig"`
	RTMR0          string `json:"rtmr0"`
	RTMR1          string `json:"rtmr1"`
	RTMR2          string `json:"rtmr2"`
	RTMR3          string `json:"rtmr3"`
	ReportData     string `json:"report_data"`
	TEETCBSVN2     string `json:"tee_tcb_svn2,omitempty"` // TDX 1.5 only
	MRServiceTD    string `json:"mrservicetd,omitempty"`  // TDX 1.5 only
	Debug          bool   `json:"debug"`                  // derived: TDATTRIBUTES.DEBUG
}

type quoteShowSignatureData struct {
	Signature             string                 `json:"signature"`
	AttestationKey        string                 `json:"attestation_key"`
	QEReport              quoteShowEnclaveReport `json:"qe_report"`
	QEReportSignature     string                 `json:"qe_report_signature"`
	QEAuthData            string                 `json:"qe_auth_data"`
	CertificationDataType int                    `json:"certification_data_type"`
	// "pem" when type 5 holds PEM text (trailing NULs dropped), else "hex".
	CertificationDataEncoding string `json:"certification_data_encoding"`
	CertificationData         string `json:"certification_data"`
}

func newQuoteShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Print every field of a quote and the claims derived from it, as JSON",
		Long: `Parse an SGX or TDX quote (v3, v4, v5) or an OpenEnclave report and print its
fields and the MAA claims derived from it as one JSON object. Nothing is verified.

FILE may hold the raw binary, or hex or base64 (standard or URL alphabet, padded or
not) text; "-" reads standard input. Exits 0 on success; 1 when the input is not a
supported quote, printing {"error":{"code":...,"message":...}}; 2 when FILE cannot
be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var input []byte
			var err error
			if args[0] == "-" {
				input, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<20))
			} else {
				input, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			out, err := showQuote(input)
			if err != nil {
				if werr := enc.Encode(quoteShowError{quoteShowErrorBody{Code: errs.Code(err), Message: errs.Detail(err)}}); werr != nil {
					return werr
				}
				return exitError{1}
			}
			return enc.Encode(out)
		},
	}
}

// showQuote decodes and parses input and shapes it for printing.
func showQuote(input []byte) (*quoteShowOutput, error) {
	raw, oe, err := quote.Decode(input)
	if err != nil {
		return nil, err
	}
	q, err := quote.Parse(raw)
	if err != nil {
		return nil, err
	}
	h := hex.EncodeToString
	tee := "sgx"
	if q.IsTDX() {
		tee = "tdx"
	}
	out := &quoteShowQuote{
		Format:      fmt.Sprintf("%s-v%d", tee, q.Header.Version),
		OpenEnclave: oe,
		Size:        len(q.Raw),
		Header: quoteShowHeader{
			Version:            int(q.Header.Version),
			AttestationKeyType: int(q.Header.AttestationKeyType),
			TEEType:            int(q.Header.TEEType),
			QESVN:              int(q.Header.QESVN),
			PCESVN:             int(q.Header.PCESVN),
			QEVendorID:         h(q.Header.QEVendorID[:]),
			UserData:           h(q.Header.UserData[:]),
		},
		BodyType:         int(q.BodyType),
		SignedRegionSize: len(q.SignedRegion),
		SignatureData: quoteShowSignatureData{
			Signature:             h(q.Signature[:]),
			AttestationKey:        h(q.AttestationKey[:]),
			QEReport:              showEnclaveReport(&q.QEReport),
			QEReportSignature:     h(q.QEReportSignature[:]),
			QEAuthData:            h(q.QEAuthData),
			CertificationDataType: int(q.CertificationDataType),
		},
		TrailingBytes: q.TrailingBytes,
	}
	sd := &out.SignatureData
	if text, ok := pemText(q.CertificationDataType, q.CertificationData); ok {
		sd.CertificationDataEncoding, sd.CertificationData = "pem", text
	} else {
		sd.CertificationDataEncoding, sd.CertificationData = "hex", h(q.CertificationData)
	}
	if q.Enclave != nil {
		r := showEnclaveReport(q.Enclave)
		out.EnclaveReport = &r
	}
	if r := q.TD; r != nil {
		td := &quoteShowTDReport{
			TEETCBSVN: h(r.TEETCBSVN[:]), MRSeam: h(r.MRSeam[:]), MRSignerSeam: h(r.MRSignerSeam[:]),
			SeamAttributes: h(r.SeamAttributes[:]), TDAttributes: h(r.TDAttributes[:]), XFAM: h(r.XFAM[:]),
			MRTD: h(r.MRTD[:]), MRConfigID: h(r.MRConfigID[:]), MROwner: h(r.MROwner[:]), MROwnerConfig: h(r.MROwnerConfig[:]),
			RTMR0: h(r.RTMR[0][:]), RTMR1: h(r.RTMR[1][:]), RTMR2: h(r.RTMR[2][:]), RTMR3: h(r.RTMR[3][:]),
			ReportData: h(r.ReportData[:]), Debug: r.Debug(),
		}
		if q.BodyType == quote.BodyTDX15 {
			td.TEETCBSVN2, td.MRServiceTD = h(r.TEETCBSVN2[:]), h(r.MRServiceTD[:])
		}
		out.TDReport = td
	}
	return &quoteShowOutput{Quote: out, Claims: claims.FromQuote(q)}, nil
}

func showEnclaveReport(r *quote.EnclaveReport) quoteShowEnclaveReport {
	h := hex.EncodeToString
	return quoteShowEnclaveReport{
		CPUSVN: h(r.CPUSVN[:]), MiscSelect: int(r.MiscSelect), ISVExtProdID: h(r.ISVExtProdID[:]),
		Attributes: h(r.Attributes[:]), MREnclave: h(r.MREnclave[:]), MRSigner: h(r.MRSigner[:]),
		ConfigID: h(r.ConfigID[:]), ISVProdID: int(r.ISVProdID), ISVSVN: int(r.ISVSVN), ConfigSVN: int(r.ConfigSVN),
		ISVFamilyID: h(r.ISVFamilyID[:]), ReportData: h(r.ReportData[:]), Debug: r.Debug(), KSS: r.KSS(),
	}
}

// pemText returns type-5 certification data as text when it is PEM: valid
// UTF-8 that decodes as PEM blocks, trailing NUL bytes (the C string
// terminator Intel's QE writes) dropped. Other data (types 1-4, or the
// concatenated DER some synthetic quotes carry) is printed as hex.
func pemText(certType uint16, data []byte) (string, bool) {
	if certType != 5 {
		return "", false
	}
	d := bytes.TrimRight(data, "\x00")
	if !utf8.Valid(d) || bytes.IndexByte(d, 0) >= 0 {
		return "", false
	}
	block, _ := pem.Decode(d)
	if block == nil {
		return "", false
	}
	return string(d), true
}
