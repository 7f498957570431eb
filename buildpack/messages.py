"""Every user-facing error and warning text, in one place.

Each says what happened, why it matters, and the exact fix, in one or two lines.
Placeholders are filled with ``str.format``. (The one text that cannot live here is in
``bin/compile``: it is printed when there is no Python to run this package with.)
"""

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
    "Could not run pip with the app's Python ({detail}).\n"
    "Fix: make sure heroku/python ran first; retry the build if PyPI had a hiccup."
)
INSTALL_FAILED = (
    "Installing {what} into the app's Python failed (pip exit {code}); pip's output is above.\n"
    "Fix: retry the build; if it persists, pin the package in your dependencies."
)
NOT_DJANGO = (
    "{reason}.\nFix: remove channels-buildpack from this app's buildpacks, or add manage.py."
)

# -- build: analysis -----------------------------------------------------------------------

SETTINGS_SYNTAX = (
    "Your settings cannot be read: {path} line {line}: {error}.\n"
    "Fix: correct it (check with: python -m py_compile {path}); the app would crash at start."
)
SOURCE_UNREADABLE = (
    "Cannot read {path}: {error}.\nFix: correct the file (check with: python -m py_compile {path})."
)
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

# -- run time -------------------------------------------------------------------------------

CHDIR_MISSING = (
    "--chdir {path}: no such directory (cwd {cwd}). "
    "Fix: the Procfile's --chdir must name the folder holding manage.py."
)
SETTINGS_UNKNOWN_AT_RUNTIME = (
    "Cannot tell which settings module to load: DJANGO_SETTINGS_MODULE is unset and neither {app} "
    "nor manage.py sets it. Fix: heroku config:set DJANGO_SETTINGS_MODULE=<your.settings>"
)
APP_PATH_UNKNOWN = (
    "No ASGI application given and ASGI_APPLICATION is not set. "
    "Fix: channels-buildpack {command} <module>:application (e.g. mysite.asgi:application)"
)
APP_MODULE_NOT_FOUND = (
    "ASGI module {module!r} not found from {cwd}. Fix: run from the folder holding manage.py "
    "(Procfile: --chdir <folder>), or correct the module:attribute argument."
)
APP_ATTR_MISSING = (
    "{module} has no attribute {attr!r}. Fix: use {module}:<name of your ProtocolTypeRouter>."
)
REDIS_TLS_UNTRUSTED = (
    "Redis at {url} presented a certificate this process does not trust ({detail}). "
    "Heroku Key-Value Store uses self-signed certificates (verification is skipped "
    "automatically on dynos). Fix: set CHANNELS_REDIS_TLS_VERIFY=false to accept it, or use a "
    "server with a trusted certificate."
)
REDIS_UNREACHABLE_AT_START = (
    "Redis at {url} is not reachable yet ({detail}); continuing, reads retry with backoff."
)
FORK_REFUSED_MEMORY = (
    "WEB_CONCURRENCY={requested} ignored: the in-memory channel layer (no Redis) cannot cross "
    "processes, so groups would split; running 1 process. "
    "Fix: heroku addons:create heroku-redis:mini"
)
WORKER_IDLE_NO_REDIS = (
    "no Redis, so this worker stays idle: single-process mode serves background channels "
    "({channels}) "
    "inside the web process. Scale workers after: heroku addons:create heroku-redis:mini"
)
WORKER_IDLE_NO_CHANNELS = (
    "no background channels to serve ({app} has no ChannelNameRouter under 'channel'{filtered}); "
    "staying up idle so local process managers keep the other processes running."
)
WORKER_PUBSUB = (
    "the pub/sub layer delivers each background message to every worker subscribed to the channel "
    "(duplicates with more than one worker). Fix: heroku config:set CHANNELS_LAYER=core"
)
NO_MANAGE_PY = (
    "no manage.py in {path}. Fix: channels-buildpack migrate --chdir <folder with manage.py>"
)
RELEASE_IDLE_LOCALLY = (
    "migrations applied; staying up idle because honcho/foreman stop every process when one "
    "exits (on Heroku and Dokku the release phase exits here)"
)
CONSUMER_SEND_WITHOUT_CLIENT = (
    "consumer for {channel!r} called send(): background consumers have no client. "
    "Fix: use channel_layer.send() or group_send() to reach sockets."
)
CONSUMER_RAISED = "consumer for channel {channel!r} raised; a new instance takes the next message"
MESSAGE_WITHOUT_TYPE = (
    "message on {channel!r} has no 'type' and was dropped. "
    "Fix: send {{'type': 'handler.name', ...}} (the consumer method is handler_name)."
)
LAYER_RECEIVE_FAILED = (
    "receiving from the channel layer failed ({error}); retrying with backoff. "
    "Redis down or unreachable? Messages sent meanwhile may be lost."
)
REDIS_UNAVAILABLE = (
    "Redis refused or dropped a connection ({error}); retrying with backoff for up to the "
    "message expiry, so nothing is lost and open WebSockets stay connected. If it says "
    "'max number of clients reached': the plan's client limit is used up. Fix: fewer "
    "processes, heroku config:set CHANNELS_REDIS_MAX_CONNECTIONS=2, or a larger Redis plan"
)
REDIS_AT_LIMIT = (
    "Redis refused one more connection ({error}); this process carries on with its {open} "
    "open one(s), so commands wait a little. If it says 'max number of clients reached': "
    "the plan's client limit is reached at peak (see manage.py check --deploy, W007)"
)
REDIS_BACKGROUND_FAILED = "{what} failed ({error}); carrying on without it"
REDIS_SMALL_SERVER = (
    "Redis allows {limit} clients, so each process opens at most {budget} (its reader and "
    "one command connection); set CHANNELS_REDIS_MAX_CONNECTIONS to choose otherwise"
)
REDIS_CLIENTS_OVER_LIMIT = (
    "{where} allows {limit} Redis clients{assumed} but {formation} needs about {need} at rest "
    "({clients}{connected}); past the limit Redis refuses connections and processes wait "
    "for each other (slow, nothing lost). Fix: fewer processes (heroku ps:scale, "
    "WEB_CONCURRENCY), a larger Redis plan, and CHANNELS_REDIS_MAX_CONNECTIONS=2 so no "
    "process opens more than that"
)
REDIS_CLIENTS_PEAK_OVER_LIMIT = (
    "{where} allows {limit} Redis clients{assumed}; {formation} needs {rest} at rest but up "
    "to {need} in bursts with CHANNELS_REDIS_MAX_CONNECTIONS={budget}, and bursts past the "
    "limit wait for connections. Fix: heroku config:set CHANNELS_REDIS_MAX_CONNECTIONS=2 "
    "(or unset it: 3), fewer processes, or a larger Redis plan"
)
WEB_CRASH_LOOP = (
    "web processes keep exiting right after start ({count} in a row); stopping so the platform "
    "restarts the dyno. The cause is in the lines above."
)
WEB_CHILD_EXITED = "web process {index} (pid {pid}) exited with {code}; restarting it"
WEB_CHILD_KILLED = "web process {index} did not stop within the deadline; killing it"
ENV_NOT_A_NUMBER = "{name}={value!r} is not a number; using {default}. Fix: set a whole number."
CANNOT_LISTEN = (
    "cannot listen on port {port}: {error}. "
    "Fix: stop what uses the port, or set PORT to a free one."
)
