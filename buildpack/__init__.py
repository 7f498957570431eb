"""channels-buildpack: deploy Django Channels apps on Heroku-style platforms.

Build side (``bin/*``): detect a Django/Channels project, analyse it statically,
generate a Procfile (and a Channels ASGI module when needed), install the runtime.
Run side (``channels-buildpack web|worker``): Daphne and channel workers that bind
``$PORT``, scale, survive Redis hiccups and shut down gracefully.
"""

__version__ = "0.1.0"
