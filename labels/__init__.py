"""Carbon labels: products, footprints, certification, lots, unit codes, QR and the resolver."""
