"""Old name of :mod:`jirabucket.clients.jira_json`, kept only for ``tests/test_models.py``.

Delete once that test imports ``jirabucket.clients.jira_json``.
"""

from jirabucket.clients.jira_json import adf_to_text, text_to_adf

__all__ = ["adf_to_text", "text_to_adf"]
