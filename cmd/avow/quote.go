package main

import "github.com/spf13/cobra"

// quoteSubcommands holds the constructors of the `avow quote` subcommands;
// each subcommand's file appends its own in an init function.
var quoteSubcommands []func() *cobra.Command

func init() { commands = append(commands, newQuoteCmd) }

func newQuoteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quote",
		Short: "Inspect and verify SGX and TDX quotes",
	}
	for _, add := range quoteSubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}
