"""``python -m spoolwatch.agent --config FILE [...]``: the same as ``spoolwatch agent run``.

An entry point, like ``spoolwatch/__main__.py``: the agent package itself never imports the
CLI.
"""

from spoolwatch.cli.agent import run_alone

run_alone()
