"""Floor 12: the contents of the ``skrif report`` folder (answer first, check
second) and their Markdown / self-contained HTML rendering.

May import: :mod:`skrif._display`, :mod:`skrif.validation` and everything below.
"""
