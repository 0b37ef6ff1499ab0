"""Command-line entry points: `imagerollout` and its subcommands."""
