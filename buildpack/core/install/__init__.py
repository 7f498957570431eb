"""Installing into the app's Python (classic) or into a layer of our own (Cloud Native
Buildpacks), split by concern:

* :mod:`.runner`: the one way the build starts pip (isolated, from a neutral directory,
  with our cache), :class:`~.runner.AppPython` and :class:`~.runner.InstallError`;
  :mod:`.pipfind` finds the pip each platform provides;
* :mod:`.runtime_package`: our runtime as a package for the app (the wheel built from this
  checkout, the requirements it brings), the same on every platform;
* :mod:`.classic`: the classic steps (into ``.heroku/python``, the ``/app`` link, the
  marker that skips a repeat install);
* :mod:`.cnb`: the Cloud Native Buildpack steps (into our layer, from the wheels
  :mod:`.wheelcache` keeps in our cache layer).

Standard library only at import time: the build imports this before ``packaging`` is
installed.
"""
