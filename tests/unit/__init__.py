"""Unit tests: one module (or one command) at a time, in this process or a child interpreter
(a real redis-server where the module talks to Redis). Laid out like the package:
``core/``, ``platforms/``, ``runtime/``, ``commands/``; the base modules and the rules of the
whole package (``test_architecture.py``, ``test_messages.py``, ``test_envvars.py``) here."""
