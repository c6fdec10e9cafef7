"""The lenscribe language server: ``lenscribe serve`` (stdio, or ``--tcp HOST:PORT``).

Only the protocol lives here; ``lenscribe.engine`` holds the document/summary pipeline the handlers call and
``lenscribe.render`` the text they show.  ``server.py`` holds the pygls server (the state its features share); one
module per feature registers its handlers (``lifecycle``, ``configuration``, ``documents``, ``hover``, ``code_lens``,
``commands``, ``workspace_run``, ``code_actions``); ``protocol.py`` answers what pygls would drop, ``positions.py``
converts columns, ``cli.py`` is the ``serve`` command and ``create_server``.
"""
