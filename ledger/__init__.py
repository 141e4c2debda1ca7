"""The double-entry ledger: accounts, immutable entries, holds, lots, sink credits, and the
transparency log.

``entries`` (accounts, posting on both paths, batches, holds, reversals, expiry), ``credits``
(registry imports, retirements, allocations, disclosure), ``tlog`` (the Merkle log and signed
checkpoints) and ``verify`` (the audit) each expose their face in their ``__init__``;
``errors`` holds the one closed ``ErrorCode``, ``models`` the tables, ``paths`` the choice
between the one-statement and the portable path, ``retry`` reruns a unit of work on 40001/40P01.

Imports neither Flask nor the labels or points packages; of the service, only ``service.base``.
"""
