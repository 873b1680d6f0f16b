"""``python -m imperium`` runs the CLI."""

from imperium.interfaces.cli.main import main

main()
