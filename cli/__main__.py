import sys

from netcon.cli.main import main

sys.exit(main())
