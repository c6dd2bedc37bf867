"""Measurements against DynamoDB Local: not part of the test suite."""
