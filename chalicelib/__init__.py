"""Task API library code: everything here is deployed to Lambda with app.py."""
