import sys

from jaxpa.cli import main

sys.exit(main())
