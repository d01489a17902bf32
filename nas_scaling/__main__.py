"""``python -m nas_scaling`` is ``nas-scaling``."""

from __future__ import annotations

import sys

from nas_scaling.cli.main import main

sys.exit(main())
