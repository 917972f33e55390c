"""``python -m pytest_llmserver.sim``: the simulator on loopback until stopped."""

import sys

from pytest_llmserver.sim.cli import main

sys.exit(main())
