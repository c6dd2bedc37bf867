"""What every resource is built on: HTTP, errors, DynamoDB, paging and the API document."""
