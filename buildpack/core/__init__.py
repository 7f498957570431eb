"""The build-time core, shared by every platform adapter.

Project analysis (dependency files, settings, ASGI and routing modules: read as text, AST
and TOML, never imported), the plan, what is generated from it (Procfile, ASGI module) and
the installs into the app's Python. Nothing here runs the user's code.
"""
