"""Behind the platform router: proxy TLS header, ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.

Never ``*`` by default. Hosts come from ``DJANGO_ALLOWED_HOSTS`` and, on Heroku with
runtime dyno metadata, ``HEROKU_APP_DEFAULT_DOMAIN_NAME``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from buildpack import envvars

PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# What Django allows when DEBUG is on and ALLOWED_HOSTS is empty; kept if we add hosts.
DEBUG_DEFAULT_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


def split_list(raw: str) -> list[str]:
    """Comma- or whitespace-separated values, empty items dropped."""
    return [item for item in re.split(r"[,\s]+", raw.strip()) if item]


def _host_only(item: str) -> tuple[str, bool]:
    """``https://x.com:443/`` -> ``x.com`` (and whether it had to be cleaned).

    ALLOWED_HOSTS entries are host names: Django strips the port before matching.
    """
    cleaned = re.sub(r"^[a-z][a-z0-9+.-]*://", "", item, flags=re.I).split("/", 1)[0]
    if not cleaned.startswith("["):
        cleaned = cleaned.rsplit(":", 1)[0] if cleaned.count(":") == 1 else cleaned
    elif "]:" in cleaned:
        cleaned = cleaned.rsplit(":", 1)[0]
    return cleaned, cleaned != item


def decide(
    environ: Mapping[str, str], namespace: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(settings to set, notes) for proxy header, allowed hosts and trusted origins."""
    updates: dict[str, Any] = {}
    notes: list[str] = []
    on_dyno = envvars.on_dyno(environ)
    behind_proxy = envvars.proxy_hops(environ) != 0
    if on_dyno and behind_proxy and "SECURE_PROXY_SSL_HEADER" not in namespace:
        updates["SECURE_PROXY_SSL_HEADER"] = PROXY_SSL_HEADER
        notes.append("SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)")

    current_hosts = list(namespace.get("ALLOWED_HOSTS") or [])
    wanted: list[str] = []
    for item in split_list(envvars.ALLOWED_HOSTS.value(environ)):
        host, cleaned = _host_only(item)
        if cleaned:
            notes.append(
                f"DJANGO_ALLOWED_HOSTS entry {item!r} used as {host!r} (hosts have no scheme)"
            )
        wanted.append(host)
    platform_host = envvars.APP_HOST.value(environ) if on_dyno else ""
    if platform_host:
        wanted.append(platform_host)
    added = [h for h in dict.fromkeys(wanted) if h not in current_hosts]
    if added:
        base = current_hosts or (DEBUG_DEFAULT_HOSTS if namespace.get("DEBUG") else [])
        updates["ALLOWED_HOSTS"] = [*base, *(h for h in added if h not in base)]
    notes.append(f"ALLOWED_HOSTS={updates.get('ALLOWED_HOSTS', current_hosts)}")

    current_origins = list(namespace.get("CSRF_TRUSTED_ORIGINS") or [])
    origins = []
    for item in split_list(envvars.CSRF_ORIGINS.value(environ)):
        origin = item if "://" in item else f"https://{item}"
        origin = origin.replace("://.", "://*.")  # Django's subdomain wildcard form
        if origin != item:
            notes.append(f"DJANGO_CSRF_TRUSTED_ORIGINS entry {item!r} used as {origin!r}")
        origins.append(origin.rstrip("/"))
    new_origins = [o for o in dict.fromkeys(origins) if o not in current_origins]
    if new_origins:
        updates["CSRF_TRUSTED_ORIGINS"] = [*current_origins, *new_origins]
    notes.append(f"CSRF_TRUSTED_ORIGINS={updates.get('CSRF_TRUSTED_ORIGINS', current_origins)}")
    return updates, notes
