"""The texts of the operating commands: ``status`` (and the heartbeats it reads), ``init``
and ``doctor``."""

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
STATUS_REMOTE_HTTP = "HTTP {code}"
STATUS_REMOTE_UNREADABLE = "{url}: {error}"
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

DOCTOR_CHECK_WITH_HINT = "{message}\nFix: {hint}"

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
