"""The operator, certifier and auditor API and web console."""
