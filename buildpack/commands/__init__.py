"""The commands people run, besides the platform entry points and the launchers.

* :mod:`.inspect`: ``inspect`` (what the buildpack learns about an app) and ``procfile``
  (the Procfile it would write);
* :mod:`.status` (with :mod:`.status_text`): channels, groups, processes and Redis of a
  running app;
* :mod:`.doctor`: what would happen on the platform, and what is wrong;
* :mod:`.init`: files for one-button deploys and review apps.

:mod:`buildpack.cli` parses the command line and runs them. They sit on top of everything:
they may use the build core (:mod:`buildpack.core`) and the run time
(:mod:`buildpack.runtime`) alike, and nothing but the CLI imports them.
"""
