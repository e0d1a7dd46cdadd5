"""The ``amaradar`` command line."""

import sys


def main(argv=None):
    print("amaradar: no commands yet", file=sys.stderr)
    return 2
