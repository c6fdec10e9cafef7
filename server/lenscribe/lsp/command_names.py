"""The names of the server's commands (``workspace/executeCommand``) and of the client command it asks for, in one
place: a feature that shows a command (a code lens, a code action) names it without importing the feature that runs
it."""

from __future__ import annotations

__all__ = ["CLIENT_COPY", "CMD_INSERT_DOCSTRING", "CMD_REGENERATE", "CMD_SHOW_SUMMARY", "CMD_STATS",
           "CMD_SUMMARIZE_FILE", "CMD_SUMMARIZE_WORKSPACE", "CMD_SUMMARY_AT"]

CMD_SUMMARIZE_FILE = "lenscribe.summarizeFile"  # commands.py
CMD_SHOW_SUMMARY = "lenscribe.showSummary"  # commands.py (a code lens click)
CMD_STATS = "lenscribe.stats"  # commands.py
CMD_SUMMARIZE_WORKSPACE = "lenscribe.summarizeWorkspace"  # workspace_run.py
CMD_INSERT_DOCSTRING = "lenscribe.insertDocstring"  # code_actions.py
CMD_REGENERATE = "lenscribe.regenerateSummary"  # code_actions.py
CMD_SUMMARY_AT = "lenscribe.summaryAt"  # code_actions.py
CLIENT_COPY = "lenscribe.client.copySummary"  # implemented by the clients, not the server (code_actions.py)
