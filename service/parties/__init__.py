"""The parties API (organisations, memberships); the domain lives in ``service.base.parties``."""
