"""Platform adapters: thin translations between a platform's contract and the core.

* :mod:`buildpack.platforms.classic`: the classic buildpack API (``bin/compile``,
  ``bin/release``), as Heroku Cedar, Dokku/herokuish and Scalingo run it.
* :mod:`buildpack.platforms.cnb`: Cloud Native Buildpacks (``bin/detect``, ``bin/build``;
  Heroku Fir, ``pack``, kpack), writing layers with :mod:`buildpack.platforms.cnb_layers`.
"""
