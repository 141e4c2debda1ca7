"""Parties: organisations, users, memberships and roles (the API is ``service.parties``)."""
