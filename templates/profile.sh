# Written by channels-buildpack. Sourced at dyno start, after config vars:
# every line only sets a default (X=${X:-default}), so a config var always wins.

# The settings layer (Redis channel layer, DATABASE_URL, proxy headers, hosts) for every
# process: web, worker, release, `heroku run`. Turn it off: heroku config:set CHANNELS_BUILDPACK_SETTINGS=off
export CHANNELS_BUILDPACK_SETTINGS="${CHANNELS_BUILDPACK_SETTINGS:-on}"
export PYTHONUNBUFFERED="${PYTHONUNBUFFERED:-1}"
