"""What is served without a token: the health check, the API document and the web page."""
