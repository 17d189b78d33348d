"""``python -m aenumpy``: the same as the ``aenumpy`` command (see :mod:`aenumpy.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
