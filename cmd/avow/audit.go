package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
)

func init() { commands = append(commands, newAuditCmd) }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log of an avow server",
		Long: `Read the audit log: every management change (who, when, which provider, what,
and the hashes of what changed) and every attestation (provider, type, TCB
status, policy hash, outcome, failure code, duration; never the evidence).
Exit status: 0 done, 1 the server refused, 2 usage or connection error.`,
	}
	cmd.AddCommand(newAuditListCmd())
	return cmd
}

func newAuditListCmd() *cobra.Command {
	var q client.AuditQuery
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest first (reader role)",
		Example: `  avow audit list
  avow audit list --provider contoso --since 24h --kind attestation
  avow audit list --kind management --since 2026-11-01T00:00:00Z -o json`,
		Args: cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	f := cmd.Flags()
	f.StringVar(&q.Provider, "provider", "", "only entries of this provider")
	f.StringVar(&q.Kind, "kind", "", "only management or attestation entries")
	f.StringVar(&q.Operation, "operation", "", "only operations starting with this, e.g. policy. or attest.")
	f.StringVar(&q.Since, "since", "", "only entries at or after this time: RFC 3339 or a duration before now (24h, 7d)")
	f.StringVar(&q.Until, "until", "", "only entries before this time (same forms as --since)")
	f.IntVar(&q.Limit, "limit", 100, "entries per page (at most 10000)")
	f.Int64Var(&q.Before, "before", 0, "only entries with a smaller id (the \"next\" of a previous page)")
	f.BoolVar(&all, "all", false, "follow the pages to the end instead of stopping after one")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch q.Kind {
		case "", client.AuditManagement, client.AuditAttestation:
		default:
			return fmt.Errorf("--kind must be management or attestation, not %q", q.Kind)
		}
		if q.Limit < 1 || q.Limit > 10000 {
			return fmt.Errorf("--limit must be from 1 to 10000")
		}
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			page, err := c.ListAudit(ctx, q)
			if err != nil {
				return err
			}
			for all && page.Next != 0 {
				q.Before = page.Next
				next, err := c.ListAudit(ctx, q)
				if err != nil {
					return err
				}
				page.Entries = append(page.Entries, next.Entries...)
				page.Next = next.Next
			}
			return r.emit(cmd, page, func(w io.Writer) { auditTable(w, page) })
		})
	}
	return cmd
}

// auditTable writes a page of audit entries as a table.
func auditTable(w io.Writer, page *client.AuditPage) {
	if len(page.Entries) == 0 {
		fmt.Fprintln(w, "no audit entries")
		return
	}
	rows := make([][]string, len(page.Entries))
	for i, e := range page.Entries {
		rows[i] = []string{outTime(e.Time), e.Kind, outDash(e.Provider), e.Operation, e.Outcome,
			outDash(e.Actor), outDash(e.RequestID), auditDetails(e.Details)}
	}
	outTable(w, []string{"TIME", "KIND", "PROVIDER", "OPERATION", "OUTCOME", "ACTOR", "REQUEST ID", "DETAILS"}, rows)
	if page.Next != 0 {
		fmt.Fprintf(w, "more: --before %d\n", page.Next)
	}
}

// auditDetails renders details as sorted key=value pairs.
func auditDetails(d map[string]string) string {
	if len(d) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := d[k]
		if strings.ContainsAny(v, " \t") {
			v = fmt.Sprintf("%q", v)
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, " ")
}
