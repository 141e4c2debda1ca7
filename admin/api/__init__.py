"""Web faces that belong to no domain package: the sink-credit API (the ledger speaks no
HTTP)."""
