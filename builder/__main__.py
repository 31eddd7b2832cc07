"""`python -m builder ...`: the headless command line."""

from builder.cli import main

raise SystemExit(main())
