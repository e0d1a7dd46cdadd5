"""``python3 -m amaradar``: the same as the ``amaradar`` command."""

import sys

from .cli import main

sys.exit(main())
