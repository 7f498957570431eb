"""Run-time launchers: ``channels-buildpack web`` and ``channels-buildpack worker``."""
