"""``python -m skrif_cli``: the ``skrif`` console script."""

import sys

from skrif_cli import main

if __name__ == "__main__":
    sys.exit(main())
