"""`python -m` on the package runs the project's command line."""

import sys

from .cli import main

sys.exit(main())
