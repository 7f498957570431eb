"""The texts of the processes on a dyno: the settings layer and its config vars, the system
checks, the launchers, the web engines and the HTTP fast path, Redis."""

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
CONSUMER_RAISED = (
    "consumer for channel {channel!r} raised; a new instance takes the next message\n{traceback}"
)
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

# -- run time: config vars and the settings layer --------------------------------------------

NOT_A_POSITIVE_NUMBER = (
    "{name}={value!r} must be a positive whole number. Fix: e.g. {name}={default}"
)
LAYER_UNKNOWN = (
    "CHANNELS_LAYER={choice!r} is not one of {accepted}. "
    "Fix: heroku config:set CHANNELS_LAYER=core (or unset it)."
)
LAYER_NEEDS_REDIS = (
    "CHANNELS_LAYER={choice} needs Redis but neither REDIS_URL nor CHANNELS_REDIS_URLS is "
    "set. Fix: heroku addons:create heroku-redis:mini"
)
REDIS_URL_EMPTY = "{source} is empty. Fix: set it to redis://host:port or rediss://..."
REDIS_URL_WHITESPACE = "{source} contains whitespace ({shown!r}). Fix: remove it."
REDIS_URL_INVALID = "{source} is not a valid URL ({shown!r}: {error})."
REDIS_URL_SCHEME = (
    "{source} has scheme {scheme!r} ({shown!r}); expected "
    "redis://, rediss:// or unix://. Fix: copy the URL from your Redis provider."
)
REDIS_URL_NO_SOCKET = "{source} has no socket path ({shown!r}). Fix: unix:///path/to/socket"
REDIS_URL_NO_HOST = "{source} has no host ({shown!r}). Fix: redis://host:port"
REDIS_URL_PORT_ZERO = "{source} has port 0 ({shown!r})."
REDIS_URLS_NAME_UNSET = (
    "CHANNELS_REDIS_URLS names {name}, which is not set or empty. "
    "Fix: heroku config:get {name} (check the add-on), or remove it from the list."
)
REDIS_URLS_ENTRY_INVALID = (
    "CHANNELS_REDIS_URLS entry {entry!r} is neither a URL nor a config "
    "var name. Fix: list URLs or names, e.g. REDIS_URL,HEROKU_REDIS_ORANGE_URL"
)
REDIS_URL_EMPTY_IGNORED = "REDIS_URL is set but empty, so it is ignored."
REDIS_SHARD_TWICE = (
    "{source} is the same Redis as {first} ({url}); "
    "listed once (a shard twice would skew the hash ring)."
)
MEMORY_LAYER_ON_SEVERAL_DYNOS = (
    "No Redis: this dyno ({dyno}) has its own in-memory channel layer, so group messages "
    "and background jobs will NOT reach the other dynos. "
    "Fix: heroku addons:create heroku-redis:mini (REDIS_URL is used automatically)."
)
RABBITMQ_NOT_INSTALLED = (
    "CHANNELS_LAYER=rabbitmq but channels_rabbitmq is not installed. "
    "Fix: add channels-rabbitmq to your dependencies."
)
RABBITMQ_NEEDS_URL = "CHANNELS_LAYER=rabbitmq needs CLOUDAMQP_URL or RABBITMQ_URL."
RABBITMQ_UNUSED = "{variable} is set but channels_rabbitmq is not installed; not used."
DATABASE_URL_UNUSABLE = (
    "DATABASE_URL ({url}) cannot be used: {error}. "
    "Fix: copy it from your database add-on (heroku config:get DATABASE_URL)."
)

# -- run time: system checks (manage.py check --deploy) -------------------------------------

CHECK_MEMORY_LAYER = (
    "CHANNEL_LAYERS uses {backend}, which only works inside one process, but {reason}: "
    "group messages and background jobs will not reach the other processes."
)
CHECK_MEMORY_LAYER_HINT = (
    "Add Redis: heroku addons:create heroku-redis:mini (REDIS_URL is then used)."
)
CHECK_REDIS_TLS = (
    "CHANNEL_LAYERS has a rediss:// host without TLS options; Heroku Key-Value Store's "
    "certificate is self-signed, so connections fail with CERTIFICATE_VERIFY_FAILED."
)
CHECK_REDIS_TLS_HINT = (
    'Use {"address": REDIS_URL, "ssl_cert_reqs": None}, or let channels-buildpack '
    "configure the layer (unset CHANNELS_LAYER=keep)."
)
CHECK_ALLOWED_HOSTS = (
    "ALLOWED_HOSTS {allowed} does not include {what}: every request will answer 400 "
    "and every WebSocket 403."
)
CHECK_ALLOWED_HOSTS_HINT = (
    "heroku config:set DJANGO_ALLOWED_HOSTS=<your-app>.herokuapp.com "
    "(or enable runtime-dyno-metadata: heroku labs:enable runtime-dyno-metadata)."
)
CHECK_PUBLIC_HOST = "the app's public host"
CHECK_CSRF_SCHEME = "CSRF_TRUSTED_ORIGINS entries without a scheme never match: {origins}."
CHECK_CSRF_SCHEME_HINT = "Write them as {origins}."
CHECK_DAPHNE_ORDER = (
    "'daphne' comes after 'django.contrib.staticfiles' in INSTALLED_APPS, so "
    "runserver is staticfiles' WSGI server and WebSockets answer 404 locally."
)
CHECK_DAPHNE_ORDER_HINT = "Move 'daphne' to the top of INSTALLED_APPS."
CHECK_ORIGIN_VALIDATION = (
    "{target} routes WebSockets without AllowedHostsOriginValidator: any web page can "
    "open a socket to your app with the visitor's cookies "
    "(cross-site WebSocket hijacking)."
)
CHECK_ORIGIN_VALIDATION_HINT = (
    "Wrap the route: AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))."
)
CHECK_CLIENT_LIMIT_ASSUMED = " (assumed: heroku-redis:mini; set {variable} to your plan's limit)"
FIX_HINT = "Fix: {fix}"  # a system check's hint, from a "... Fix: ..." text

# -- run time: the web process -------------------------------------------------------------

WEBSOCKET_REFUSED_ORIGIN = (
    "WebSocket {path} refused (403): Origin {origin} is not in ALLOWED_HOSTS {allowed} "
    "(AllowedHostsOriginValidator). Fix: heroku config:set DJANGO_ALLOWED_HOSTS={host}"
)
WEBSOCKET_REFUSED_NO_ORIGIN = "WebSocket {path} refused (403): the request has no Origin header."
WEBSOCKET_REFUSED_BY_APP = (
    "WebSocket {path} refused (403) by the application: the consumer closed before accept()."
)
START_UP_FAILED = "start-up failed:\n{traceback}"
STOPPING_HOOK_FAILED = "stopping hook failed: {error!r}"
READER_FAILED = "channel layer reader: {error}"
READER_STOP_FAILED = "stopping the layer's reader: {error}"
