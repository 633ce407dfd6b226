package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/store"
)

func init() { commands = append(commands, newStoreCmd) }

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Work on an avow store directly (SQLite file or PostgreSQL database)",
		Long: `Commands that open a store directly rather than through a server.
Stores are named by URL: sqlite:PATH for a SQLite file (the default store is
sqlite:avow-data/avow.db), postgres://USER@HOST:PORT/DB?sslmode=... for PostgreSQL.`,
	}
	cmd.AddCommand(newStoreMigrateCmd())
	return cmd
}

func newStoreMigrateCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --from STORE --to STORE",
		Short: "Copy everything from one store into a new, empty one",
		Long: `Copy everything a store holds into another, empty store: providers with their
settings and versions, policies, policy signer certificates, signing keys (still
sealed with the same key-encryption key: give the new nodes the same --kek-file),
admin tokens, collateral with its history, and the audit log.

Stop every avow node using the source first: the source is read while the copy
runs. The copy is one transaction on the destination: if it fails, the
destination is left empty and the command can be run again. A destination that
already holds data is refused (exit 1).

Exit status: 0 copied, 1 the destination is not empty, 2 usage or store error.`,
		Example: `  avow store migrate --from sqlite:avow-data/avow.db --to postgres://avow@db.internal/avow?sslmode=verify-full
  avow store migrate --from sqlite:avow-data/avow.db --to sqlite:/backup/avow-copy.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return errors.New("both --from and --to are required")
			}
			if from == to {
				return errors.New("--from and --to name the same store")
			}
			if path, ok := strings.CutPrefix(from, "sqlite:"); ok {
				// Opening a missing SQLite file would create an empty store.
				if _, err := os.Stat(strings.TrimPrefix(path, "//")); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			src, err := server.OpenStore(ctx, from, "", 4, nil)
			if err != nil {
				return fmt.Errorf("--from %s: %s", server.RedactStoreURL(from), errs.Detail(err))
			}
			defer src.Close()
			dst, err := server.OpenStore(ctx, to, "", 4, nil)
			if err != nil {
				return fmt.Errorf("--to %s: %s", server.RedactStoreURL(to), errs.Detail(err))
			}
			defer dst.Close()
			st, err := store.Copy(ctx, dst, src)
			if errors.Is(err, store.ErrConflict) {
				fmt.Fprintf(cmd.ErrOrStderr(), "avow: %s: %s\n", server.RedactStoreURL(to), errs.Detail(err))
				return exitError{1}
			}
			if err != nil {
				return fmt.Errorf("copy: %s", errs.Detail(err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s to %s:\n", server.RedactStoreURL(from), server.RedactStoreURL(to))
			outFields(cmd.OutOrStdout(),
				"providers", fmt.Sprint(st.Providers),
				"policies", fmt.Sprint(st.Policies),
				"policy signers", fmt.Sprint(st.Signers),
				"signing keys", fmt.Sprint(st.Keys),
				"admin tokens", fmt.Sprint(st.AdminTokens),
				"collateral rows", fmt.Sprint(st.Collateral),
				"type collateral", fmt.Sprint(st.TypeCollateral),
				"audit entries", fmt.Sprint(st.Audit))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source store: sqlite:PATH or postgres://…")
	f.StringVar(&to, "to", "", "destination store, empty: sqlite:PATH (created if missing) or postgres://…")
	return cmd
}
