"""Tests that start the API as a program (`chalice local`, as `make run` does) and talk to it
over HTTP: curl, schemathesis, a generated client, the smoke script, many threads."""
