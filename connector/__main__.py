"""`python -m connector`: the same as the `connector` command."""

from connector.cli import main

main()
