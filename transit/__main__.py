import sys

from transit.cli import main

sys.exit(main())
