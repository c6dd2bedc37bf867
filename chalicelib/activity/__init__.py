"""STAND-IN (branch infra-21, for the infrastructure only): the lead's package replaces it."""
