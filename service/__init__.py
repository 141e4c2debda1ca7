"""Flask setup for Tanhui: the app factory, configuration, database session, extensions, sign-in,
errors, CLI, OpenAPI and parties. Start at ``service.app.create_app``."""
