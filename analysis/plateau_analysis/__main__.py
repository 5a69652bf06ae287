"""``python3 -m plateau_analysis report RESULTS.h5 [--theory THEORY.h5] -o DIR``."""

import sys

from .cli import main

sys.exit(main())
