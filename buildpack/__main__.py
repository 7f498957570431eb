"""``python -m buildpack`` is the same as the ``channels-buildpack`` command."""

from buildpack.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
