"""The ground: what every package stands on and nothing of the features.

The ORM base and session helpers, the exception hierarchy (with no HTTP), the settings' names and
limits, units and the calendar zone, and the parties (organisations, people, roles). Nothing here
imports ``ledger``, ``labels``, ``points``, ``admin`` or the rest of ``service``; an
import-linter contract in ``pyproject.toml`` holds it to that.
"""
