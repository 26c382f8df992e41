"""Defaults the command line needs before anything else is loaded."""

DEFAULT_STORE = "peerflow.sqlite3"
"""The store a command uses without ``--db`` or ``PEERFLOW_DB``: a SQLite file here."""
