"""The ``tanhui`` console command: a Flask CLI group over the app factory.

Its commands live in ``service.commands``; the factory adds them to every app it builds, so
``tanhui``, ``flask --app wsgi`` and the tests' CLI runner offer the same ones.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from service.app import create_app


def _create_app(*_args: object) -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """Tanhui 碳汇: carbon labels and points backed by retired agricultural sink credits."""
