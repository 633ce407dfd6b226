package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
)

func init() { commands = append(commands, newAdminCmd) }

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Server administration: admin tokens",
	}
	tok := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke admin bearer tokens (owner role)",
		Long: `Manage the admin tokens of an avow server. Roles: reader (read providers,
policies, signers, collateral, audit), policy-admin (reader + set and reset
policies, add and remove signers), owner (everything). Needs an owner token.
Exit status: 0 done, 1 the server refused, 2 usage or connection error.`,
	}
	tok.AddCommand(newAdminTokenCreateCmd(), newAdminTokenListCmd(), newAdminTokenRevokeCmd())
	cmd.AddCommand(tok)
	return cmd
}

var adminRoles = []string{client.RoleReader, client.RolePolicyAdmin, client.RoleOwner}

func newAdminTokenCreateCmd() *cobra.Command {
	var role, description string
	cmd := &cobra.Command{
		Use:   "create --role reader|policy-admin|owner [--description TEXT]",
		Short: "Create an admin token; its secret is printed once",
		Example: `  avow admin token create --role policy-admin --description "CI pipeline"
  export AVOW_TOKEN=$(avow admin token create --role reader -o json | jq -r .token)`,
		Args: cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	cmd.Flags().StringVar(&role, "role", "", "role of the new token: reader, policy-admin or owner (required)")
	cmd.Flags().StringVar(&description, "description", "", "what the token is for")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		role = strings.ToLower(role)
		ok := false
		for _, x := range adminRoles {
			ok = ok || role == x
		}
		if !ok {
			return fmt.Errorf("--role must be reader, policy-admin or owner")
		}
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			t, err := c.CreateAdminToken(ctx, role, description)
			if err != nil {
				return err
			}
			return r.emit(cmd, t, func(w io.Writer) {
				outFields(w, "id", t.ID, "role", t.Role, "description", outDash(t.Description))
				fmt.Fprintf(w, "admin token: %s\n", t.Token)
				fmt.Fprintln(w, "(the token is shown only now; the server keeps only its hash)")
			})
		})
	}
	return cmd
}

func newAdminTokenListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the admin tokens (without their secrets)",
		Args:  cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			ts, err := c.ListAdminTokens(ctx)
			if err != nil {
				return err
			}
			if ts == nil {
				ts = []client.AdminToken{}
			}
			return r.emit(cmd, struct {
				Tokens []client.AdminToken `json:"tokens"`
			}{ts}, func(w io.Writer) {
				rows := make([][]string, len(ts))
				for i, t := range ts {
					state := "active"
					if t.Revoked {
						state = "revoked"
					}
					rows[i] = []string{t.ID, t.Role, state, outTime(t.CreatedAt), outDash(t.Description)}
				}
				outTable(w, []string{"ID", "ROLE", "STATE", "CREATED", "DESCRIPTION"}, rows)
			})
		})
	}
	return cmd
}

func newAdminTokenRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an admin token",
		Args:  cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			if err := c.RevokeAdminToken(ctx, args[0]); err != nil {
				return err
			}
			return r.emit(cmd, map[string]any{"id": args[0], "revoked": true}, func(w io.Writer) {
				fmt.Fprintf(w, "revoked admin token %s\n", args[0])
			})
		})
	}
	return cmd
}
