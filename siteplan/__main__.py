"""Run the ``siteplan`` command line as ``python -m siteplan``."""

from siteplan.cli import main

if __name__ == "__main__":
    main()
