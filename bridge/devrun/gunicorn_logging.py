"""gunicorn settings module for ``bridge dev``'s web child (``--config python:...``).

Its start-up and access lines come out in the console format of the other children's logs
instead of gunicorn's own, so one reader (and grep) serves every log under the data folder.
"""

from __future__ import annotations

from bridge.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig("console", "info")
