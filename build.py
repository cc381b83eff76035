#!/usr/bin/env python3
"""Build the dossier: `python build.py` builds this folder into output/.

See `python build.py --help` and README.md.
"""

from dossier.cli import run

if __name__ == "__main__":
    run()
