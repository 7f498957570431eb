"""Written by channels-buildpack (Cloud Native Buildpack runtime layer; do not edit).

A CNB layer on PYTHONPATH is not a site-packages directory, so Python does not read the
channels_buildpack.pth hook beside this file by itself (on classic platforms it sits in
site-packages). This runs it, which turns the settings layer on for every process when
CHANNELS_BUILDPACK_SETTINGS is on, then runs the next sitecustomize on sys.path, if any.
"""

import importlib.machinery
import importlib.util
import os
import site
import sys

_here = os.path.dirname(os.path.abspath(__file__))
site.addsitedir(_here)
_others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _others)
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
