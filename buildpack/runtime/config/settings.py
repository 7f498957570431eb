"""The settings layer: platform fixes applied on top of the user's Django settings.

Applied to every process of a deployed app (web, worker, release phase, ``heroku run``)
by :mod:`buildpack.runtime.config.autoload`, or explicitly, at the end of ``settings.py``::

    from buildpack.settings import configure; configure(globals())

It only fills gaps or fixes configurations known to break on the platform:

* ``CHANNEL_LAYERS`` from ``REDIS_URL`` & co (see :mod:`buildpack.runtime.config.layer_config`);
* ``DATABASES`` from ``DATABASE_URL`` (see :mod:`buildpack.runtime.config.database`);
* ``SECURE_PROXY_SSL_HEADER``, ``ALLOWED_HOSTS``, ``CSRF_TRUSTED_ORIGINS``
  (see :mod:`buildpack.runtime.config.hosts`);
* adds this package's system checks to ``INSTALLED_APPS`` (``manage.py check --deploy``).

Every change is reported once, in one line on stderr, secrets redacted.
Switch it off with ``CHANNELS_BUILDPACK_SETTINGS=off``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from buildpack import envvars, log
from buildpack.messages import ConfigError
from buildpack.redact import redact_text
from buildpack.runtime.config import database, hosts, layer_config

CHECKS_APP = "buildpack.apps.ChannelsBuildpackConfig"
CONFIGURED_FLAG = "_channels_buildpack_configured"  # lower case: Django ignores it
MODE_FLAG = "_channels_buildpack_mode"


def configure(
    namespace: MutableMapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    announce: bool = True,
) -> list[str]:
    """Apply the settings layer to a settings module's namespace (``globals()``).

    Returns the notes that make up the start-up line. Idempotent. On a configuration
    error, prints what is wrong and how to fix it and exits (no traceback).
    """
    environ = os.environ if environ is None else environ
    # The switch applies to the explicit one-liner too: on unless it says off.
    if namespace.get(CONFIGURED_FLAG) or not envvars.settings_enabled(environ):
        return []
    namespace[CONFIGURED_FLAG] = True
    try:
        notes = _apply(namespace, environ)
    except ConfigError as exc:
        log.runtime_error("settings", str(exc))
        raise SystemExit(1) from None
    if announce and not envvars.quiet(environ):
        module = namespace.get("__name__", "settings")
        switch = envvars.SETTINGS.name
        line = f"{module}: " + " | ".join(notes) + f" (disable: {switch}=off)"
        log.runtime("settings", redact_text(line))
    return notes


def _apply(namespace: MutableMapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    rabbitmq = importlib.util.find_spec("channels_rabbitmq") is not None
    decision = layer_config.decide(
        environ, namespace.get("CHANNEL_LAYERS"), rabbitmq_available=rabbitmq
    )
    if decision.config is not None:
        namespace["CHANNEL_LAYERS"] = decision.config
    namespace[MODE_FLAG] = decision.mode
    for warning in decision.warnings:
        log.runtime_warning("settings", warning)
    notes = ["CHANNEL_LAYERS: " + "; ".join(decision.notes)]

    databases, db_note = database.decide(
        environ, namespace.get("DATABASES"), database.server_kind(environ)
    )
    if databases is not None:
        namespace["DATABASES"] = databases
    if db_note:
        notes.append(db_note)

    updates, host_notes = hosts.decide(environ, namespace)
    namespace.update(updates)
    notes += host_notes

    apps = namespace.get("INSTALLED_APPS")
    if isinstance(apps, (list, tuple)) and CHECKS_APP not in apps and "buildpack" not in apps:
        namespace["INSTALLED_APPS"] = [*apps, CHECKS_APP]
    return notes
