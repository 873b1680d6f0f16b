"""The ``imperium`` command (Typer + Rich)."""
