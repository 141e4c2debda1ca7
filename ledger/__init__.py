"""The double-entry ledger: accounts, immutable entries, holds, lots, sink credits, and the
transparency log.

Imports neither Flask nor the labels or points packages.
"""
