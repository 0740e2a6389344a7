"""``python -m deconflict`` runs the command-line tool."""

from deconflict.cli import main

main()
