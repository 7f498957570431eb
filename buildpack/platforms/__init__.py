"""Platform adapters: thin translations between a platform's contract and the core.

* :mod:`buildpack.platforms.classic`: the classic buildpack API (``bin/compile``,
  ``bin/release``), as Heroku Cedar, Dokku/herokuish and Scalingo run it.
"""
