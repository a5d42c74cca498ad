"""Command-line interface (see :mod:`hiddenpool.cli.main`)."""
