"""The ``diffkit`` command line: one module per command."""
