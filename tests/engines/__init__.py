"""Tests of the app or a store on a DynamoDB engine, in this process: moto always, and AWS's
DynamoDB Local (a Java process per worker) for the tests parametrized over ``ENGINES`` or
marked ``dynamodb_local``."""
