"""``python -m torchclas`` runs the CLI (also what ``torchrun -m torchclas`` uses)."""

import sys

from .cli import main

sys.exit(main())
