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
REDIS_BACK = "channel layer reachable again after {seconds:.1f} s"
REDIS_STALLED = (
    "Redis has not answered for {seconds:.0f} s (stalled by a snapshot, maintenance or an "
    "overloaded server, or this process was too busy to read the answer); commands wait for "
    "it instead of failing, so nothing is lost meanwhile"
)
REDIS_ANSWERS_AGAIN = "Redis answers again after {seconds:.1f} s"
REDIS_FULL = (
    "Redis is full and refuses writes ({error}): it reached its maxmemory and its policy "
    "evicts nothing (noeviction, Heroku's default). Sends and group changes wait and retry "
    "for up to the message expiry. Fix: heroku redis:info shows the memory in use; find what "
    "fills it (keys without an expiry: heroku redis:cli, then --bigkeys) or move to a larger plan"
)
REDIS_WRITABLE_AGAIN = "Redis accepts writes again after {seconds:.1f} s (it was full)"
REDIS_DATA_LOST = (
    "Redis at {address} came back without its data (restarted empty, flushed or failed "
    "over): put back {count} group membership(s) of this process's consumers"
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
WEB_CHILD_CANNOT_START = (
    "web process {index} (pid {pid}) cannot start because of the error above, and every "
    "restart would meet it again; stopping the dyno. Fix that error, then redeploy."
)
WEB_CHILD_EXITED = "web process {index} (pid {pid}) exited with {code}; restarting it"
WEB_CHILD_KILLED = "web process {index} did not stop within the deadline; killing it"
ENV_NOT_A_NUMBER = "{name}={value!r} is not a number; using {default}. Fix: set a whole number."
FLAG_NOT_YES_NO = "{name}={value!r} is not a yes/no value. Fix: set it to true, false or auto."
CANNOT_LISTEN = (
    "cannot listen on port {port}: {error}. "
    "Fix: stop what uses the port, or set PORT to a free one."
)

# -- operating: status, heartbeats, autoscaling --------------------------------------------

HEARTBEAT_FAILED = (
    "could not write this process's heartbeat ({error}); retrying every interval. "
    "`channels-buildpack status` will not list this process meanwhile."
)
STATUS_SENTINEL = (
    "Redis Sentinel hosts are not supported by status. Fix: point CHANNELS_REDIS_URLS at the "
    "master, e.g. CHANNELS_REDIS_URLS=redis://master:6379 channels-buildpack status"
)
STATUS_UNREACHABLE = (
    "{where} is unreachable ({error}): its channels, groups and processes are not shown. "
    "Fix: check the add-on (heroku redis:info) and REDIS_URL."
)
STATUS_EVICTING = (
    "{where} evicts keys under memory pressure (maxmemory-policy {policy}): the layer's messages "
    "and group memberships all have a TTL, so they can vanish. "
    "Fix: heroku redis:maxmemory <addon> --policy noeviction"
)
STATUS_CLIENTS_HIGH = (
    "{where} has {clients} of {limit} clients: new connections will be refused "
    "(max number of clients reached). Fix: lower CHANNELS_REDIS_MAX_CONNECTIONS, "
    "WEB_CONCURRENCY or CHANNELS_WORKER_CONCURRENCY, or upgrade the Redis plan."
)
STATUS_MEMORY_HIGH = (
    "{where} uses over 80% of maxmemory. Fix: drain the deepest channels (more workers) "
    "or upgrade the Redis plan."
)
STATUS_UNSERVED = (
    "{channel!r} has messages but no live process serves it (no heartbeat lists it). "
    "Fix: heroku ps:scale worker=1"
)
STATUS_NEAR_CAPACITY = (
    "{channel!r} is at 90% or more of its capacity ({capacity} per shard): sends will raise "
    "ChannelFull. Fix: heroku ps:scale worker=<more>, or raise CHANNELS_CAPACITY."
)
STATUS_PUBSUB_GROUPS = (
    "pub/sub layer: groups are subscriptions inside each process, not keys in Redis, so none "
    "are listed."
)
STATUS_MEMORY_LAYER = (
    "The channel layer is in-memory (single-process mode, from {source}): messages, groups and "
    "background jobs live inside the web process, so this process cannot see them.\n"
    "To see its background channels, ask the web process: "
    "heroku config:set CHANNELS_METRICS_TOKEN=<random>, then "
    "CHANNELS_METRICS_TOKEN=<same> channels-buildpack status --url https://<your-app-host>"
)
STATUS_NOT_REDIS = "The channel layer is {backend} (from {source}); status reads Redis layers only."
STATUS_REMOTE_NO_TOKEN = (
    "--url needs the web process's token. Fix: CHANNELS_METRICS_TOKEN=<the app's value> "
    "channels-buildpack status --url <url>"
)
STATUS_REMOTE_REFUSED = (
    "{url} refused the token. Fix: use the app's value: heroku config:get CHANNELS_METRICS_TOKEN"
)
STATUS_REMOTE_OFF = (
    "{url} does not serve metrics. Fix: heroku config:set CHANNELS_METRICS_TOKEN=<random> "
    "(the web process restarts with the endpoint on)"
)
STATUS_REMOTE_LIMITS = (
    "Groups, process inboxes and Redis clients are not visible through the web process's "
    "endpoint (it publishes queue numbers only)."
)

# -- init ----------------------------------------------------------------------------------

INIT_NOT_AN_APP = (
    "init: nothing to deploy here:\n{problems}\n"
    "Fix: run it in your repository's root (the folder holding manage.py or above it)."
)
INIT_WROTE = "wrote {name}"
INIT_UP_TO_DATE = "{name}: exists and already says what init would write"
INIT_KEPT = "{name}: exists, left unchanged; init would change it like this:"
INIT_SECRET_KEY_HARDCODED = (
    "your settings hard-code SECRET_KEY, so the generated {variable} is not used. "
    'Fix: SECRET_KEY = os.environ["{variable}"] in your settings.'
)
INIT_ALLOWED_HOSTS_DESCRIPTION = (
    "Hosts that serve the app. .herokuapp.com covers one-button deploys and review apps, whose "
    "host names are random; after the deploy narrow it: "
    "heroku config:set DJANGO_ALLOWED_HOSTS=<your-app>.herokuapp.com,<your domain>"
)
INIT_NEXT = (
    "Next: commit these files; a Deploy to Heroku button is "
    "[![Deploy](https://www.herokucdn.com/deploy/button.svg)](https://heroku.com/deploy), "
    "and review apps use app.json as is (Heroku Dashboard > Pipeline > Enable Review Apps)."
)

# -- doctor --------------------------------------------------------------------------------

DOCTOR_NOT_DETECTED = "not a Django app: {reason}. Fix: run doctor in your repository's root."
DOCTOR_SUMMARY = "{errors} problem(s) would break a deploy, {warnings} warning(s)."
DOCTOR_NO_DJANGO = (
    "the live checks need Django in this Python ({error}). Fix: run doctor inside your "
    "project's virtualenv, or pass --static."
)
DOCTOR_SETTINGS_FAIL = (
    "your settings fail to load as on a dyno ({error}); every process would crash at start. "
    "Fix: the error above; try DYNO=web.1 python manage.py check"
)
DOCTOR_NO_REDIS = (
    "no Redis: single-process mode (everything in one web process; workers idle). "
    "Scale beyond one process after: heroku addons:create heroku-redis:mini"
)
DOCTOR_REDIS_UNREACHABLE = (
    "{url} is not reachable ({mode}; {detail}): groups and background jobs would fail. "
    "Fix: check REDIS_URL (heroku config:get REDIS_URL) and the add-on (heroku redis:info)."
)
DOCTOR_DATABASE_UNREACHABLE = (
    "the database does not answer ({detail}): requests that query it and the release phase "
    "would fail. Fix: check DATABASE_URL (heroku config:get DATABASE_URL)."
)
DOCTOR_HOST_UNKNOWN = (
    "the app's public host is unknown, so ALLOWED_HOSTS and CSRF origins were not checked. "
    "Fix: channels-buildpack doctor --host <your-app>.herokuapp.com"
)
DOCTOR_HOST_REFUSED = (
    "{host} is not in ALLOWED_HOSTS {allowed}: every request would answer 400 and every "
    "WebSocket 403. Fix: heroku config:set DJANGO_ALLOWED_HOSTS={host}"
)
DOCTOR_CSRF_NO_SCHEME = (
    "CSRF_TRUSTED_ORIGINS entries without a scheme never match: {origins}. "
    "Fix: heroku config:set DJANGO_CSRF_TRUSTED_ORIGINS=https://<host>"
)
DOCTOR_CSRF_HTTPS = (
    "forms posted from https://{host} would fail with 403 (CSRF): the request looks like http "
    "behind the router and the origin is not trusted. Fix: leave SECURE_PROXY_SSL_HEADER to "
    "the settings layer (CHANNELS_PROXY_HOPS not 0), or "
    "heroku config:set DJANGO_CSRF_TRUSTED_ORIGINS=https://{host}"
)
DOCTOR_NO_STATIC_ROOT = (
    "django.contrib.staticfiles is installed but STATIC_ROOT is not set: heroku/python's "
    'collectstatic fails the build. Fix: STATIC_ROOT = BASE_DIR / "staticfiles" in settings.'
)
DOCTOR_MIGRATIONS_PENDING = (
    "{count} migration(s) not applied to this database; the release phase applies them on "
    "deploy (release: channels-buildpack migrate in the Procfile)."
)
DOCTOR_MISSING_MIGRATIONS = (
    "your models have changes without a migration: the release phase would not create the "
    "tables or columns. Fix: python manage.py makemigrations, then commit them."
)

# -- run time: web engines --------------------------------------------------------------------

WEB_SERVER_UNKNOWN = (
    "CHANNELS_WEB_SERVER={value!r} is not a web engine this buildpack runs; accepted: {accepted}. "
    "Fix: heroku config:set CHANNELS_WEB_SERVER=daphne (or unset it for the default)"
)
WEB_SERVER_MISSING = (
    "CHANNELS_WEB_SERVER={engine} needs the Python package {package!r}, which this slug lacks "
    "(the build installs it when the variable is set); serving with Daphne meanwhile. "
    "Fix: deploy again, or add {engine}[standard] to your dependencies"
)
WEB_SERVER_TOO_OLD = (
    "CHANNELS_WEB_SERVER=uvicorn needs uvicorn>={minimum} (installed: {installed}); serving "
    "with Daphne meanwhile. Fix: require uvicorn[standard]>={minimum} and deploy again"
)

# -- run time: the HTTP fast path -----------------------------------------------------------

FAST_PATH_ON = "http fast path on"
FAST_PATH_OFF = "http fast path off (CHANNELS_HTTP_FAST_PATH=off)"
FAST_PATH_UNUSED = (
    "http fast path not used: {reason}; requests take Django's own async path (a thread "
    "round trip per middleware method)"
)
FAST_PATH_OVERRIDDEN = "{handler} overrides {method}(), which the fast path would bypass"
FAST_PATH_ASYNC_MIDDLEWARE = (
    "middleware {path} is async-only (Django's sync chain would run it through async_to_sync)"
)
FAST_PATH_ASYNC_HOOK = "{hook} is a coroutine (an async process_view/process_template_response)"
FAST_PATH_CHAIN_FAILED = "Django's sync middleware chain could not be loaded ({error})"
