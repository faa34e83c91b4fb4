"""`python -m benchmarks.quality`: see benchmarks/quality/run.py."""

import sys

from benchmarks.quality.run import main

sys.exit(main())
