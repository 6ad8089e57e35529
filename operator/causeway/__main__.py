"""`python -m causeway` runs the command line."""

from causeway.cli import main

raise SystemExit(main())
