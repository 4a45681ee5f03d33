"""pytest runs the ``>>>`` examples of the .rst pages (``--doctest-glob``); not these."""

collect_ignore = ["conf.py", "api.rst", "examples.rst"]
collect_ignore_glob = ["_build/*", "generated/*"]
