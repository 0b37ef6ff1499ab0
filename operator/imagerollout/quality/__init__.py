"""Quality gates: endpoint client, validation suite, scorers and evidence."""
