"""`python -m cab` runs the `cab` command."""

import sys

from cab.cli import main

sys.exit(main())
