"""The process launchers the Procfile runs: ``web``, ``worker`` and ``migrate``.

``web`` (an engine of :mod:`buildpack.runtime.web` on an adopted socket, pre-fork supervisor,
graceful shutdown), ``worker`` (background channel consumers) and the pieces they share
(``bootstrap``: the application and the layer probe; ``background``: the consumers).
"""
