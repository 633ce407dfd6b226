package service

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

// GPUSettings are a provider's settings for NVIDIA GPU evidence (the
// NvidiaGpu type reads them from the provider's extra settings, member
// "gpu"). A nil member keeps the current value.
type GPUSettings struct {
	// MaxRevocationAge > 0 judges each OCSP answer at its own thisUpdate
	// and accepts it while younger than this; 0 requires current answers.
	MaxRevocationAge *time.Duration
	// ExpiredRIMCertificates is "refuse" (the default) or "allow".
	ExpiredRIMCertificates *string
}

const gpuMember = "gpu"

type gpuJSON struct {
	MaxRevocationAge       string `json:"maxRevocationAge,omitempty"`
	ExpiredRimCertificates string `json:"expiredRimCertificates,omitempty"`
}

// GPU returns a provider's GPU settings: the maximum revocation age (0:
// answers must be current) and the expired-RIM policy ("refuse" or
// "allow").
func GPU(s store.Settings) (time.Duration, string) {
	g := readGPU(s.Extra)
	d, _ := time.ParseDuration(g.MaxRevocationAge)
	pol := "refuse"
	if strings.EqualFold(g.ExpiredRimCertificates, "allow") {
		pol = "allow"
	}
	return d, pol
}

func readGPU(extra json.RawMessage) gpuJSON {
	var g gpuJSON
	var m map[string]json.RawMessage
	if len(extra) > 0 && json.Unmarshal(extra, &m) == nil {
		_ = json.Unmarshal(m[gpuMember], &g)
	}
	return g
}

// withGPU validates in and merges it into the "gpu" member of extra.
func withGPU(extra json.RawMessage, in *GPUSettings) (json.RawMessage, error) {
	g := readGPU(extra)
	if d := in.MaxRevocationAge; d != nil {
		if *d < 0 {
			return nil, ErrInvalidRequest.Wrapf("the GPU maximum revocation age is negative")
		}
		g.MaxRevocationAge = ""
		if *d > 0 {
			g.MaxRevocationAge = d.String()
		}
	}
	if p := in.ExpiredRIMCertificates; p != nil {
		switch v := strings.ToLower(*p); v {
		case "allow", "refuse":
			g.ExpiredRimCertificates = v
		default:
			return nil, ErrInvalidRequest.Wrapf("expired RIM certificates %q: allow or refuse", *p)
		}
	}
	m := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &m); err != nil || m == nil {
			m = map[string]json.RawMessage{}
		}
	}
	if g == (gpuJSON{}) {
		delete(m, gpuMember)
	} else {
		b, err := json.Marshal(g)
		if err != nil {
			return nil, err
		}
		m[gpuMember] = b
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}
