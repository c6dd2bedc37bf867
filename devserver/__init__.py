"""Development-only code: what ``chalice local`` and Chalice's test client need to answer
like the deployed API Gateway. It lives outside ``chalicelib/`` because Chalice packages
``app.py`` and ``chalicelib/`` into ``deployment.zip``; nothing here reaches Lambda (a test
checks the zip's file list)."""
