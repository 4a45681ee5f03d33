"""``python -m skrif``: the same as the ``skrif`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
