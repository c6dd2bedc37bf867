"""Tests that need nothing but Python: no DynamoDB, no server, no other program. The service's
rules on an in-memory store, the record type, the operation declarations, the requirement
files, the IAM policies against the code. `make check` runs them with the engines' tests."""
