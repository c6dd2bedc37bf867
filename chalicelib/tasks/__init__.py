"""The task resource: its schema, record type, service, store, routes and API document."""
