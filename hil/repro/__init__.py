"""Reproducing field failures: field bundles (collect, check), repro on a rig or the
simulator, record and replay of console sessions, triage signatures."""
