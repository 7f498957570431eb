"""The process launchers the Procfile runs: ``web``, ``worker`` and ``migrate``.

``web`` (Daphne on an adopted socket, pre-fork supervisor, graceful shutdown), ``worker``
(background channel consumers) and the pieces they share (``bootstrap``, ``background``).
"""
