"""The lenscribe language server: ``lenscribe serve`` (stdio, or ``--tcp HOST:PORT``).

``server.py`` holds the pygls server and its thin handlers, ``engine.py`` the document/summary pipeline they call,
``config.py`` the settings, ``files.py`` the workspace walk, ``positions.py`` column conversions.
"""
