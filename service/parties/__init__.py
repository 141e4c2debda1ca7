"""Parties: users, organisations (enterprises, farms, cooperatives, the platform), memberships."""
