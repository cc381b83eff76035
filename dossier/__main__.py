"""`python -m dossier ...`: the same commands as `dossier` and `python build.py`."""

from .cli import run

run()
