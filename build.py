#!/usr/bin/env python3
"""Build the dossier: `python build.py` builds this folder into output/.

See `python build.py --help` and README.md.
"""

import sys

from dossier.cli import main

if __name__ == "__main__":
    sys.exit(main())
