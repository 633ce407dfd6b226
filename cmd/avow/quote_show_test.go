package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

// runQuoteShow runs `avow quote show` in-process.
func runQuoteShow(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runAvow(t, append([]string{"quote", "show"}, args...)...)
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func dcapSetDir(t *testing.T, prefix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "dcap"), prefix+"-*"))
	if len(m) != 1 {
		t.Fatalf("set %s not found", prefix)
	}
	return m[0]
}

func TestQuoteShowGolden(t *testing.T) {
	for _, set := range []string{"S01", "S02"} {
		t.Run(set, func(t *testing.T) {
			path := filepath.Join(dcapSetDir(t, set), "quote.bin")
			code, out, errOut := runQuoteShow(t, path)
			if code != 0 {
				t.Fatalf("exit %d: %s %s", code, out, errOut)
			}
			golden := filepath.Join("testdata", "quote", set+".show.json")
			if updateGolden() {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (run with -update after checking the change):\n%s", golden, out)
			}

			// The same quote as hex text, base64 text and on standard input.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string][]byte{
				"hex":        []byte(hex.EncodeToString(raw) + "\n"),
				"base64":     []byte(base64.StdEncoding.EncodeToString(raw)),
				"base64url":  []byte(base64.RawURLEncoding.EncodeToString(raw) + "\n"),
				"hex-spaced": []byte(strings.ToUpper(hex.EncodeToString(raw[:len(raw)/2])) + "\n" + hex.EncodeToString(raw[len(raw)/2:])),
			} {
				code, got, _ := runQuoteShow(t, writeTemp(t, name, data))
				if code != 0 || got != out {
					t.Errorf("%s input: exit %d, output differs", name, code)
				}
			}
			stdin, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			saved := os.Stdin
			os.Stdin = stdin
			code, got, _ := runQuoteShow(t, "-")
			os.Stdin = saved
			if code != 0 || got != out {
				t.Errorf("stdin input: exit %d, output differs", code)
			}
		})
	}
}

func TestQuoteShowShape(t *testing.T) {
	code, out, _ := runQuoteShow(t, filepath.Join(dcapSetDir(t, "S01"), "quote.bin"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Quote  map[string]any `json:"quote"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	q := doc.Quote
	if q["format"] != "sgx-v3" || q["open_enclave"] != false || q["trailing_bytes"] != float64(0) || q["td_report"] != nil {
		t.Errorf("quote = %v", q)
	}
	er := q["enclave_report"].(map[string]any)
	if er["mrenclave"] != "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb" || er["isv_prod_id"] != float64(0) {
		t.Errorf("enclave_report = %v", er)
	}
	sd := q["signature_data"].(map[string]any)
	if sd["certification_data_type"] != float64(5) || sd["certification_data_encoding"] != "pem" ||
		!strings.HasPrefix(sd["certification_data"].(string), "-----BEGIN CERTIFICATE-----") ||
		strings.ContainsRune(sd["certification_data"].(string), 0) {
		t.Errorf("certification data: type %v encoding %v", sd["certification_data_type"], sd["certification_data_encoding"])
	}
	if doc.Claims["x-ms-sgx-mrenclave"] != er["mrenclave"] || doc.Claims["x-ms-attestation-type"] != "sgx" {
		t.Errorf("claims = %v", doc.Claims)
	}
}

func TestQuoteShowNonPEMCertificationData(t *testing.T) {
	for set, enc := range map[string]string{"S21": "hex", "S22": "hex", "S09": "pem"} {
		code, out, _ := runQuoteShow(t, filepath.Join(dcapSetDir(t, set), "quote.bin"))
		if code != 0 {
			t.Fatalf("%s: exit %d", set, code)
		}
		var doc struct {
			Quote struct {
				SignatureData struct {
					Encoding string `json:"certification_data_encoding"`
					Data     string `json:"certification_data"`
				} `json:"signature_data"`
				TDReport map[string]any `json:"td_report"`
			} `json:"quote"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Quote.SignatureData.Encoding != enc {
			t.Errorf("%s: encoding %s, want %s", set, doc.Quote.SignatureData.Encoding, enc)
		}
		if set == "S09" && doc.Quote.TDReport["mrservicetd"] == nil {
			t.Errorf("S09: TDX 1.5 fields missing")
		}
	}
}

func TestQuoteShowOpenEnclave(t *testing.T) {
	maa := vectors.Dir(t, "maa")
	code, out, _ := runQuoteShow(t, filepath.Join(maa, "sdk-cpp", "oe_report_debug.b64url"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var doc struct {
		Quote struct {
			OpenEnclave bool   `json:"open_enclave"`
			Format      string `json:"format"`
			Size        int    `json:"size"`
		} `json:"quote"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Quote.OpenEnclave || doc.Quote.Format != "sgx-v3" || doc.Quote.Size != 4584 {
		t.Errorf("quote = %+v", doc.Quote)
	}
	if doc.Claims["x-ms-sgx-is-debuggable"] != true {
		t.Errorf("claims = %v", doc.Claims)
	}
	// The raw quote of the same report gives the same output apart from open_enclave.
	_, plain, _ := runQuoteShow(t, filepath.Join(maa, "sdk-cpp", "sgx_quote_debug.bin"))
	if strings.Replace(out, `"open_enclave": true`, `"open_enclave": false`, 1) != plain {
		t.Errorf("OE report and raw quote outputs differ beyond open_enclave")
	}
}

func TestQuoteShowErrors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(dcapSetDir(t, "S01"), "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, detail string
		data         []byte
	}{
		{"truncated", "quote is 900 bytes, the minimum is 1020", raw[:900]},
		{"version", "quote version 9 is not supported", append([]byte{9, 0}, raw[2:]...)},
		{"text", "neither hex nor base64", []byte("hello, world!")},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runQuoteShow(t, writeTemp(t, "q", c.data))
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			var doc struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(out)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if doc.Error.Code != "unsupported_quote_format" || !strings.Contains(doc.Error.Message, c.detail) ||
				!strings.HasPrefix(doc.Error.Message, "the quote format is not supported: ") {
				t.Errorf("error = %+v", doc.Error)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		code, out, errOut := runQuoteShow(t, filepath.Join(t.TempDir(), "missing"))
		if code != 2 || out != "" || !strings.Contains(errOut, "missing") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _, _ := runQuoteShow(t); code != 2 {
			t.Errorf("no FILE: exit %d, want 2", code)
		}
	})
}
