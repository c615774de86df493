"""The `onloop` command line: the typer app (app.py) and one module per command group."""
