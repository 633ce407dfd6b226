package sgxsim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
)

// TCB is the platform TCB a PCK certificate certifies: the 16 SGX TCB
// component SVNs (OIDs 1.2.840.113741.1.13.1.2.1–.16) and the PCESVN
// (.2.17). The simulator uses the component bytes as the CPUSVN (.2.18)
// as well, and as the CPUSVN of the quote body and of the QE report.
type TCB struct {
	Components [16]uint8
	PCESVN     uint16
}

// CPUSVN returns the CPUSVN of a platform at this TCB.
func (t TCB) CPUSVN() [16]byte { return t.Components }

func (t TCB) String() string {
	return fmt.Sprintf("comps=%x pcesvn=%d", t.Components[:], t.PCESVN)
}

// baseComponents are the SGX TCB components comp02..comp16 shared by every
// level of the simulated TCB info; only comp01 and the PCESVN vary between
// levels. (comp01 is the "Early Microcode Update" SVN on real platforms.)
var baseComponents = [16]uint8{0, 10, 3, 3, 255, 1, 0, 5}

func tcbWith(comp01 uint8, pcesvn uint16) TCB {
	t := TCB{Components: baseComponents, PCESVN: pcesvn}
	t.Components[0] = comp01
	return t
}

// tdxComponents are the tdxtcbcomponents of every TDX TCB info level:
// TDX module minor SVN 5, major 0 (as Intel publishes it), late microcode 3.
var tdxComponents = [16]uint8{5, 0, 3}

// DefaultTEETCBSVN is the TEE_TCB_SVN of a simulated TD by default: TDX
// module minor SVN 5, major version 1 (so the module identity TDX_01
// applies), SEAM late-microcode SVN 3. It matches the top level of TDX_01
// and of the TDX TCB levels.
var DefaultTEETCBSVN = [16]byte{5, 1, 3}

// Level is one level of the simulated TCB info (the same levels for SGX and
// TDX; TDX levels add tdxtcbcomponents {5, 0, 3, 0...}).
type Level struct {
	TCB         TCB
	TCBDate     time.Time
	Status      pcs.TCBStatus
	AdvisoryIDs []string
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// levels are in QVL's order: descending by components, then PCESVN.
var levels = []Level{
	{tcbWith(14, 13), date("2024-11-13T00:00:00Z"), pcs.StatusUpToDate, nil},
	{tcbWith(12, 13), date("2024-03-13T00:00:00Z"), pcs.StatusSWHardeningNeeded, []string{"INTEL-SA-00615"}},
	{tcbWith(10, 13), date("2024-03-13T00:00:00Z"), pcs.StatusConfigurationAndSWHardeningNeeded, []string{"INTEL-SA-00289", "INTEL-SA-00615"}},
	{tcbWith(8, 13), date("2023-08-09T00:00:00Z"), pcs.StatusConfigurationNeeded, []string{"INTEL-SA-00289"}},
	{tcbWith(6, 11), date("2023-02-15T00:00:00Z"), pcs.StatusOutOfDate, []string{"INTEL-SA-00828", "INTEL-SA-00615"}},
	{tcbWith(4, 10), date("2022-08-10T00:00:00Z"), pcs.StatusOutOfDateConfigurationNeeded, []string{"INTEL-SA-00657", "INTEL-SA-00289", "INTEL-SA-00615"}},
	{tcbWith(2, 5), date("2019-11-13T00:00:00Z"), pcs.StatusRevoked, []string{"INTEL-SA-00334", "INTEL-SA-00289"}},
}

// RecoveryAdvisoryID is the advisory of the simulated TCB recovery
// (RecoveredTCBEvaluationDataNumber): every level below the recovered top
// level lists it.
const RecoveryAdvisoryID = "INTEL-SA-01213"

// recoveredLevels are the TCB levels after the simulated TCB recovery: a
// new top level (comp01 16, PresetRecovered) and every earlier level one
// step worse — the statuses that were current become OutOfDate (keeping
// ConfigurationNeeded as OutOfDateConfigurationNeeded) — with
// RecoveryAdvisoryID added, as Intel publishes a recovery.
var recoveredLevels = func() []Level {
	out := []Level{{tcbWith(16, 13), date("2025-05-14T00:00:00Z"), pcs.StatusUpToDate, nil}}
	for _, l := range levels {
		switch l.Status {
		case pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded:
			l.Status = pcs.StatusOutOfDate
		case pcs.StatusConfigurationNeeded, pcs.StatusConfigurationAndSWHardeningNeeded:
			l.Status = pcs.StatusOutOfDateConfigurationNeeded
		}
		if l.Status != pcs.StatusRevoked {
			l.AdvisoryIDs = append(append([]string(nil), l.AdvisoryIDs...), RecoveryAdvisoryID)
		}
		out = append(out, l)
	}
	return out
}()

// RecoveredLevels returns the TCB levels of the simulated TCB info of
// RecoveredTCBEvaluationDataNumber, in document order.
func RecoveredLevels() []Level {
	out := make([]Level, len(recoveredLevels))
	for i, l := range recoveredLevels {
		l.AdvisoryIDs = append([]string(nil), l.AdvisoryIDs...)
		out[i] = l
	}
	return out
}

// Levels returns the TCB levels of the simulated TCB info, in the order
// they appear in the document (QVL's descending order).
func Levels() []Level {
	out := make([]Level, len(levels))
	for i, l := range levels {
		l.AdvisoryIDs = append([]string(nil), l.AdvisoryIDs...)
		out[i] = l
	}
	return out
}

// moduleLevel is a level of the TDX module identity TDX_01.
type moduleLevel struct {
	isvsvn     uint8
	date       string
	status     pcs.TCBStatus
	advisories []string
}

var tdx01Levels = []moduleLevel{
	{5, "2024-11-13T00:00:00Z", pcs.StatusUpToDate, nil},
	{3, "2024-03-13T00:00:00Z", pcs.StatusOutOfDate, []string{"INTEL-SA-01036"}},
}

var tdx03Levels = []moduleLevel{
	{3, "2024-11-13T00:00:00Z", pcs.StatusUpToDate, nil},
}

// QE identity levels (JSON order, descending isvsvn).
type qeLevel struct {
	isvsvn     uint16
	date       string
	status     pcs.TCBStatus
	advisories []string
}

var qeLevels = []qeLevel{
	{8, "2024-03-13T00:00:00Z", pcs.StatusUpToDate, nil},
	{6, "2021-11-10T00:00:00Z", pcs.StatusOutOfDate, []string{"INTEL-SA-00615"}},
}

// DefaultQESVN is the ISVSVN of the simulated QE / TD QE: the top level of
// the published QE identity. An SVN of 6 or 7 makes the QE out of date
// (the platform status converges to OutOfDate…); below 6 the QE is not
// supported (tcb_not_supported).
const DefaultQESVN uint16 = 8

// Preset is a named platform TCB and the verification outcome it produces
// with valid collateral: Result "ok" with Status and AdvisoryIDs, or an
// error class. The outcome is the same for SGX and TDX quotes with the
// default TEE_TCB_SVN and QE SVN.
type Preset struct {
	Name        string
	TCB         TCB
	Result      string        // "ok" or an error class of ../shared/vectors/dcap/README.md
	Status      pcs.TCBStatus // for Result "ok"
	AdvisoryIDs []string      // advisoryIDs of the matched level, for Result "ok"
	Description string
}

// The preset names.
const (
	PresetUpToDate                 = "uptodate"
	PresetSWHardeningNeeded        = "swhardening"
	PresetConfigurationAndSWHarden = "configswhardening"
	PresetConfigurationNeeded      = "configneeded"
	PresetOutOfDate                = "outofdate"
	PresetOutOfDateConfiguration   = "outofdateconfig"
	PresetRevoked                  = "revoked"
	PresetUnsupported              = "unsupported"
	// PresetRecovered is a platform with the simulated TCB recovery's
	// update: UpToDate under both TCB baselines.
	PresetRecovered = "recovered"
)

var presets = []Preset{
	{PresetUpToDate, levels[0].TCB, "ok", pcs.StatusUpToDate, nil,
		"matches the top level exactly"},
	{PresetSWHardeningNeeded, levels[1].TCB, "ok", pcs.StatusSWHardeningNeeded, levels[1].AdvisoryIDs,
		"comp01 below the top level"},
	{PresetConfigurationAndSWHarden, levels[2].TCB, "ok", pcs.StatusConfigurationAndSWHardeningNeeded, levels[2].AdvisoryIDs,
		"comp01 two steps below the top level"},
	{PresetConfigurationNeeded, levels[3].TCB, "ok", pcs.StatusConfigurationNeeded, levels[3].AdvisoryIDs,
		"comp01 three steps below the top level"},
	{PresetOutOfDate, tcbWith(14, 11), "ok", pcs.StatusOutOfDate, levels[4].AdvisoryIDs,
		"top-level components but PCESVN 11: only the PCESVN keeps it off the upper levels"},
	{PresetOutOfDateConfiguration, levels[5].TCB, "ok", pcs.StatusOutOfDateConfigurationNeeded, levels[5].AdvisoryIDs,
		"comp01 below the OutOfDate level"},
	{PresetRevoked, levels[6].TCB, "tcb_revoked", "", nil,
		"matches the lowest level, which is Revoked"},
	{PresetUnsupported, func() TCB { t := levels[0].TCB; t.Components[1]--; return t }(), "tcb_not_supported", "", nil,
		"top-level comp01 and PCESVN but comp02 below every level: no level matches"},
	{PresetRecovered, recoveredLevels[0].TCB, "ok", pcs.StatusUpToDate, nil,
		"the simulated TCB recovery's update (comp01 16): UpToDate with both TCB evaluation data numbers"},
}

// Presets returns the named platform TCBs.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.AdvisoryIDs = append([]string(nil), p.AdvisoryIDs...)
		out[i] = p
	}
	return out
}

// LookupPreset returns the preset with the given name (case-insensitive;
// hyphens and underscores are ignored, so "up-to-date" works too).
func LookupPreset(name string) (Preset, bool) {
	n := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name))
	for _, p := range presets {
		if p.Name == n {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames returns the preset names in order.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// presetTCBs returns the distinct TCBs of all presets (the PCK
// certificates the RevokedPCK defect revokes).
func presetTCBs() []TCB {
	seen := map[TCB]bool{}
	var out []TCB
	for _, p := range presets {
		if !seen[p.TCB] {
			seen[p.TCB] = true
			out = append(out, p.TCB)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
