"""Unit tests for ``buildpack.runtime.config.hosts``: the proxy header, ALLOWED_HOSTS and
CSRF_TRUSTED_ORIGINS behind the platform router.
"""

from __future__ import annotations

import pytest

from buildpack.runtime.config import hosts

# ---- hosts.decide ---------------------------------------------------------------------------


def test_proxy_header_only_on_a_dyno_and_only_when_unset() -> None:
    updates, notes = hosts.decide({"DYNO": "web.1"}, {})
    assert updates == {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
    assert notes[0] == "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)"
    assert hosts.decide({}, {})[0] == {}
    for user_value in (None, ("HTTP_X_FORWARDED_SSL", "on")):
        updates, notes = hosts.decide({"DYNO": "web.1"}, {"SECURE_PROXY_SSL_HEADER": user_value})
        assert "SECURE_PROXY_SSL_HEADER" not in updates
        assert not any("SECURE_PROXY_SSL_HEADER" in n for n in notes)
    # CHANNELS_PROXY_HOPS=0 says nothing is in front: no proxy header is trusted at all
    assert hosts.decide({"DYNO": "web.1", "CHANNELS_PROXY_HOPS": "0"}, {})[0] == {}
    two_hops = {"DYNO": "web.1", "CHANNELS_PROXY_HOPS": "2"}
    assert "SECURE_PROXY_SSL_HEADER" in hosts.decide(two_hops, {})[0]


@pytest.mark.parametrize(
    "raw",
    [
        "a.example.com,b.example.com",
        "a.example.com b.example.com",
        " a.example.com ,\tb.example.com, ,",
        "a.example.com,b.example.com,a.example.com",
    ],
)
def test_django_allowed_hosts_separators(raw: str) -> None:
    updates, notes = hosts.decide({"DJANGO_ALLOWED_HOSTS": raw}, {"ALLOWED_HOSTS": []})
    assert updates == {"ALLOWED_HOSTS": ["a.example.com", "b.example.com"]}
    assert "ALLOWED_HOSTS=['a.example.com', 'b.example.com']" in notes


def test_django_allowed_hosts_scheme_and_path_stripped_with_note() -> None:
    environ = {"DJANGO_ALLOWED_HOSTS": "https://a.example.com/,HTTP://b.example.com/x/y,c.com"}
    updates, notes = hosts.decide(environ, {})
    assert updates["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com", "c.com"]
    assert (
        "DJANGO_ALLOWED_HOSTS entry 'https://a.example.com/' used as 'a.example.com' "
        "(hosts have no scheme)" in notes
    )
    assert any("'HTTP://b.example.com/x/y' used as 'b.example.com'" in n for n in notes)
    assert not any("'c.com' used as" in n for n in notes)


def test_platform_domain_added_on_a_dyno_only() -> None:
    environ = {"HEROKU_APP_DEFAULT_DOMAIN_NAME": "myapp-1a2b.herokuapp.com"}
    updates, _ = hosts.decide({**environ, "DYNO": "web.1"}, {"ALLOWED_HOSTS": ["example.com"]})
    assert updates["ALLOWED_HOSTS"] == ["example.com", "myapp-1a2b.herokuapp.com"]
    assert "ALLOWED_HOSTS" not in hosts.decide(environ, {"ALLOWED_HOSTS": ["example.com"]})[0]


def test_user_hosts_kept_first_and_not_duplicated() -> None:
    environ = {
        "DYNO": "web.1",
        "DJANGO_ALLOWED_HOSTS": "example.com,www.example.com",
        "HEROKU_APP_DEFAULT_DOMAIN_NAME": "example.com",
    }
    updates, notes = hosts.decide(environ, {"ALLOWED_HOSTS": ("example.com",)})
    assert updates["ALLOWED_HOSTS"] == ["example.com", "www.example.com"]
    assert "ALLOWED_HOSTS=['example.com', 'www.example.com']" in notes


def test_nothing_to_add_keeps_allowed_hosts_and_notes_the_effective_value() -> None:
    updates, notes = hosts.decide(
        {"DYNO": "web.1", "DJANGO_ALLOWED_HOSTS": "example.com"},
        {"ALLOWED_HOSTS": ["example.com"], "SECURE_PROXY_SSL_HEADER": None},
    )
    assert updates == {}
    assert notes == ["ALLOWED_HOSTS=['example.com']", "CSRF_TRUSTED_ORIGINS=[]"]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"DYNO": "web.1"},
        {"DYNO": "web.1", "DJANGO_ALLOWED_HOSTS": "", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "  "},
        {"DJANGO_ALLOWED_HOSTS": "a.com", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "x.herokuapp.com"},
    ],
)
def test_never_a_wildcard_unless_given(environ: dict[str, str]) -> None:
    updates, notes = hosts.decide(environ, {"ALLOWED_HOSTS": []})
    assert "*" not in updates.get("ALLOWED_HOSTS", [])
    assert not any("'*'" in n for n in notes)


def test_wildcard_when_given() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "*"}, {})
    assert updates["ALLOWED_HOSTS"] == ["*"]


def test_debug_with_empty_allowed_hosts_keeps_django_implicit_hosts() -> None:
    environ = {"DYNO": "web.1", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "app.herokuapp.com"}
    updates, notes = hosts.decide(environ, {"DEBUG": True, "ALLOWED_HOSTS": []})
    assert updates["ALLOWED_HOSTS"] == [".localhost", "127.0.0.1", "[::1]", "app.herokuapp.com"]
    assert "ALLOWED_HOSTS=['.localhost', '127.0.0.1', '[::1]', 'app.herokuapp.com']" in notes
    # Django's own list, so that localhost keeps working exactly as before
    from django.conf import global_settings

    assert global_settings.DEBUG is False
    assert hosts.DEBUG_DEFAULT_HOSTS == [".localhost", "127.0.0.1", "[::1]"]


def test_debug_default_hosts_not_duplicated() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "127.0.0.1,a.com"}, {"DEBUG": True})
    assert updates["ALLOWED_HOSTS"] == [".localhost", "127.0.0.1", "[::1]", "a.com"]


def test_no_debug_with_empty_allowed_hosts_adds_only_ours() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "a.com"}, {"DEBUG": False})
    assert updates["ALLOWED_HOSTS"] == ["a.com"]


def test_csrf_origins_without_scheme_get_https_with_note() -> None:
    environ = {"DJANGO_CSRF_TRUSTED_ORIGINS": "a.example.com, https://b.example.com/ http://c:8000"}
    updates, notes = hosts.decide(environ, {"CSRF_TRUSTED_ORIGINS": ["https://old.example.com"]})
    assert updates == {
        "CSRF_TRUSTED_ORIGINS": [
            "https://old.example.com",
            "https://a.example.com",
            "https://b.example.com",
            "http://c:8000",
        ]
    }
    assert (
        "DJANGO_CSRF_TRUSTED_ORIGINS entry 'a.example.com' used as 'https://a.example.com'" in notes
    )
    assert sum("DJANGO_CSRF_TRUSTED_ORIGINS entry" in n for n in notes) == 1
    assert notes[-1] == (
        "CSRF_TRUSTED_ORIGINS=['https://old.example.com', 'https://a.example.com', "
        "'https://b.example.com', 'http://c:8000']"
    )


def test_csrf_origins_already_present_are_not_duplicated() -> None:
    updates, notes = hosts.decide(
        {"DJANGO_CSRF_TRUSTED_ORIGINS": "a.example.com,https://a.example.com"},
        {"CSRF_TRUSTED_ORIGINS": ("https://a.example.com",)},
    )
    assert updates == {}
    assert notes[-1] == "CSRF_TRUSTED_ORIGINS=['https://a.example.com']"


def test_notes_include_effective_hosts_and_origins_in_order() -> None:
    environ = {
        "DYNO": "web.1",
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://example.com",
        "HEROKU_APP_DEFAULT_DOMAIN_NAME": "app.herokuapp.com",
    }
    updates, notes = hosts.decide(environ, {})
    assert notes == [
        "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)",
        "ALLOWED_HOSTS=['example.com', 'app.herokuapp.com']",
        "CSRF_TRUSTED_ORIGINS=['https://example.com']",
    ]
    assert updates["ALLOWED_HOSTS"] == ["example.com", "app.herokuapp.com"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        (" , ,\n", []),
        ("a", ["a"]),
        ("a,b c\td\n,e", ["a", "b", "c", "d", "e"]),
    ],
)
def test_split_list(raw: str, expected: list[str]) -> None:
    assert hosts.split_list(raw) == expected


@pytest.mark.parametrize(
    ("given", "host"),
    [("x.com:443", "x.com"), ("https://x.com:8443/", "x.com"), ("[::1]:8000", "[::1]")],
)
def test_allowed_hosts_entries_lose_their_port(given: str, host: str) -> None:
    updates, notes = hosts.decide({"DJANGO_ALLOWED_HOSTS": given}, {"ALLOWED_HOSTS": []})
    assert updates["ALLOWED_HOSTS"] == [host]
    assert any(given in note and host in note for note in notes)


def test_csrf_origin_with_leading_dot_becomes_a_wildcard() -> None:
    updates, _ = hosts.decide({"DJANGO_CSRF_TRUSTED_ORIGINS": ".example.com"}, {})
    assert updates["CSRF_TRUSTED_ORIGINS"] == ["https://*.example.com"]
