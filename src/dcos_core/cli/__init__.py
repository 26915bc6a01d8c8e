"""The `dcos` command line: a typed HTTP client (`client`) and typer/rich commands (`main`)."""
