"""The settings layer: platform fixes applied to the app's Django settings at process start.

:mod:`~buildpack.runtime.config.settings` applies them (``configure``), from the pieces
here: channel layer selection (``layer_config``), ``DATABASE_URL`` (``database``), hosts
and proxy headers (``hosts``); ``autoload`` hooks them into every process, ``loading``
loads the app's settings in a process with the layer hooked in, ``active_layer`` reads the
channel layer they end up naming, ``checks`` adds ``manage.py check --deploy`` warnings.
"""
