"""The build log's texts: prerequisites, the analysis, the Procfile lint, Cloud Native
Buildpacks (``bin/compile``, ``bin/build``, ``inspect``)."""

# -- build: prerequisites ------------------------------------------------------------------

NO_APP_PYTHON = (
    "No Python at .heroku/python: heroku/python must run before channels-buildpack.\n"
    "Fix: heroku buildpacks:add --index 1 heroku/python"
)
OLD_PYTHON = (
    "The app uses Python {version}; channels-buildpack needs Python 3.10 or newer.\n"
    "Fix: echo 3.12 > .python-version (then commit and push)"
)
PIP_UNAVAILABLE = (
    "Could not find pip for the app's Python: {detail}.\n"
    "Fix: list heroku/python (it provides pip) before channels-buildpack, or add pip to your "
    "dependencies (requirements.txt: pip)."
)
PIP_FOUND = "pip: {where}"
INSTALL_FAILED = (
    "Installing {what} into the app's Python failed (pip exit {code}); pip's output is above.\n"
    "Fix: retry the build; if it persists, pin the package in your dependencies."
)
NOT_DJANGO = (
    "{reason}.\nFix: remove channels-buildpack from this app's buildpacks, or add manage.py."
)

INTERNAL_ERROR = (
    "channels-buildpack stopped on an unexpected {error} while {step}; your app was not "
    "changed.\nFix: retry the build; if it persists, report it with this line at "
    "https://github.com/channels-buildpack/channels-buildpack/issues"
)
UNSAFE_WRITE = (
    "Refusing to write {path}, which {reason}: the build never writes outside your app or over "
    "something that is not a file.\nFix: git rm {path} (or make it a regular file inside the "
    "repository), then push again."
)

# -- build: analysis -----------------------------------------------------------------------

SETTINGS_SYNTAX = (
    "Your settings cannot be read: {path} line {line}: {error}.\n"
    "Fix: correct it (check with: python -m py_compile {path}); the app would crash at start."
)
SOURCE_UNREADABLE = (
    "Cannot read {path}: {error}.\nFix: correct the file (check with: python -m py_compile {path})."
)
SOURCE_TOO_COMPLEX = (
    "Cannot analyse {path}: {error} (the build reads it without running it).\n"
    "Fix: split the very long or deeply nested expression into several statements."
)
PROCFILE_UNREADABLE = (
    "Cannot use your Procfile, which {reason}.\n"
    "Fix: commit Procfile as a regular text file, or git rm it to get a generated one."
)
UNSAFE_APP_PATH = "{what} {value!r} cannot go on a Procfile line ({why}).\nFix: {fix}"
SETTINGS_MODULE_MISSING = (
    "Settings module {module!r} (from {source}) has no file in the repository.\n"
    "Fix: heroku config:set DJANGO_SETTINGS_MODULE=<your.settings> (dotted path from {project_dir})"
)
SETTINGS_MODULE_UNKNOWN = (
    "Could not tell which settings module to use: no manage.py setting DJANGO_SETTINGS_MODULE.\n"
    "Fix: heroku config:set DJANGO_SETTINGS_MODULE=<your.settings>"
)
ASGI_SETTING_MISSING_MODULE = (
    "ASGI_APPLICATION = {setting!r} but {module} has no file in the repository.\n"
    "Fix: point ASGI_APPLICATION at your ProtocolTypeRouter (e.g. mysite.asgi.application)."
)
SEVERAL_MANAGE_PY = (
    "Found several manage.py files at the same depth ({paths}); using {chosen}.\n"
    "Fix: remove the extra ones, or set DJANGO_SETTINGS_MODULE to be explicit."
)
SETTINGS_MISMATCH = (
    "{asgi} sets DJANGO_SETTINGS_MODULE={asgi_settings} but manage.py uses {settings};\n"
    "Daphne will load {asgi_settings}. Set the DJANGO_SETTINGS_MODULE config var to pick one."
)
GENERATED_NAME_TAKEN = (
    "{path} exists but was not written by channels-buildpack, so it is not replaced.\n"
    "Fix: rename your {path}, or give your project a Channels asgi.py (see README)."
)
SQLITE_ON_DYNO = (
    "DATABASES uses SQLite: a dyno's disk is wiped on every restart and not shared between dynos.\n"
    "Fix: heroku addons:create heroku-postgresql:essential-0 (DATABASE_URL is used automatically)."
)
STATIC_FILES_NOT_SERVED = (
    "Daphne does not serve static files, so STATIC_URL (the admin's CSS too) will 404 on the "
    "dyno.\nFix: add whitenoise to your dependencies and "
    "'whitenoise.middleware.WhiteNoiseMiddleware' to MIDDLEWARE, after SecurityMiddleware."
)
DAPHNE_AFTER_STATICFILES = (
    "'daphne' comes after 'django.contrib.staticfiles' in INSTALLED_APPS, so runserver is not "
    "Daphne.\n"
    "Fix: move 'daphne' to the top of INSTALLED_APPS."
)
NO_ORIGIN_VALIDATION = (
    "{path}: WebSocket routes are not wrapped in AllowedHostsOriginValidator "
    "(cross-site hijacking).\n"
    "Fix: wrap them: AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))."
)
MISSING_SERVER_PACKAGE = (
    "{package} is not among your dependencies; installed {pin} so the app can run.\n"
    "Fix: add this line to {file}: {line}"
)

CHANNELS1_PROJECT = (
    "This is a Channels 1 project ({evidence}). Channels 1 (with asgi_redis and Daphne 1) "
    "cannot run on today's stack (Python 3.10+, Django 4.2+, Channels 4), so the build stops.\n"
    "Fix: migrate to Channels 4 (https://channels.readthedocs.io/en/2.x/one-to-two.html, then "
    "https://channels.readthedocs.io/en/stable/):\n"
    "  1. consumers instead of channel_routing: class-based consumers (AsyncWebsocketConsumer...)"
    " routed by URLRouter inside a ProtocolTypeRouter;\n"
    '  2. channels_redis instead of asgi_redis: "BACKEND": '
    '"channels_redis.core.RedisChannelLayer", and no "ROUTING" key;\n'
    "  3. an ASGI application instead of channel_layer: {package}/asgi.py defines application = "
    'ProtocolTypeRouter({{...}}), ASGI_APPLICATION = "{package}.asgi.application";\n'
    "  4. runworker with channel names: manage.py runworker <channel> serves ChannelNameRouter "
    "channels only; HTTP and WebSockets run in Daphne (or remove the Procfile and let "
    "channels-buildpack write web and worker)."
)

# -- build: Procfile lint (user's Procfile is never changed) -------------------------------

PROCFILE_CHAIN = (
    "Procfile '{name}' chains commands (&&, ;, |): Dokku runs each line with exec $(eval echo ...),"
    " which breaks chains. Fix: one command per line (a script, or a separate process type)."
)
PROCFILE_DAPHNE_NO_PORT = (
    "Procfile '{name}': Daphne does not read $PORT, so the router cannot reach it (R10 after 60 s)."
    " Fix: add -p $PORT (or use: channels-buildpack web <module>:application)."
)
PROCFILE_DAPHNE_LOOPBACK = (
    "Procfile '{name}': Daphne binds 127.0.0.1 by default, unreachable from the router."
    " Fix: add -b 0.0.0.0 (or use: channels-buildpack web, which binds IPv4 and IPv6)."
)
PROCFILE_DAPHNE_NO_PROXY_HEADERS = (
    "Procfile '{name}': Daphne without --proxy-headers sees the router's address and http://,"
    " not the client's. Fix: add --proxy-headers."
)
PROCFILE_APP_NO_ATTR = (
    "Procfile '{name}': '{app}' has no ':attr' part; ASGI servers need module:attribute."
    " Fix: use {app}:application."
)
PROCFILE_RUNWORKER_NO_CHANNEL = (
    "Procfile '{name}': runworker needs the channel names to serve and exits without them."
    " Fix: list them, or use: channels-buildpack worker <module>:application (discovers them)."
)
PROCFILE_CHANNELS1_TARGET = (
    "Procfile '{name}': {app} is a Channels 1 channel layer, not an ASGI application; Daphne 2+"
    " cannot serve it. Fix: point it at your ProtocolTypeRouter: {module}:application"
    " (e.g. channels-buildpack web {module}:application)."
)
PROCFILE_CHANNELS1_RUNWORKER = (
    "Procfile '{name}': runworker {option} is a Channels 1 option; today's runworker takes"
    " channel names and serves only background channels. Fix: manage.py runworker <channel> ...,"
    " or channels-buildpack worker <module>:application --only 'GLOB'."
)
PROCFILE_RUNSERVER = (
    "Procfile '{name}' runs manage.py runserver: a development server, single-threaded, not for"
    " production. Fix: channels-buildpack web <module>:application."
)
PROCFILE_WSGI_FOR_CHANNELS = (
    "Procfile '{name}' runs {server}, a WSGI server: every WebSocket request will answer 404."
    " Fix: channels-buildpack web <module>:application (Daphne, ASGI)."
)
PROCFILE_NO_WEB = (
    "Procfile has no 'web' process: nothing will serve HTTP or WebSockets."
    " Fix: add web: channels-buildpack web <module>:application"
)
PROCFILE_NO_WORKER = (
    "Background channels ({channels}) have no worker process in your Procfile; messages sent to"
    " them are never handled. Fix: add worker: channels-buildpack worker <module>:application"
)

# -- build: notes ----------------------------------------------------------------------------

REDIS_ADDON_OPTED_OUT = "Not requesting heroku-redis (CHANNELS_BUILDPACK_REDIS_ADDON={value})."

# -- build: Cloud Native Buildpack (bin/build) -----------------------------------------------

CNB_REDIS_ADDON = (
    "No REDIS_URL yet: this app runs in single-process mode until it has Redis. Cloud Native\n"
    "       Buildpacks cannot request add-ons; add one: heroku addons:create heroku-redis:mini"
)
CNB_PROCFILE_TYPES = (
    "Your Procfile defines {types}: heroku/procfile launches those "
    "(list it after channels-buildpack)"
)
CNB_PROCESSES = "Process types (launch.toml)"
