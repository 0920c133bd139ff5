"""``python -m narae``: the command line (see ``narae.cli``)."""
import sys

from .cli import main

sys.exit(main())
