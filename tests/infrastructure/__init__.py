"""Tests that run the infrastructure and documentation tools: chalice package, Terraform,
cfn-lint, the SAM translator, Spectral (npm) and MkDocs."""
