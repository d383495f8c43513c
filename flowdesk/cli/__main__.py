"""`python -m flowdesk.cli`: the same command line as the `flowdesk` script."""

from __future__ import annotations

from flowdesk.cli import main

if __name__ == "__main__":
    main(prog_name="flowdesk")
