"""Infrastructure for the deployed stages, generated from the definitions in this package.

``python -m infra.package`` wraps ``chalice package`` (CloudFormation/SAM and Terraform);
``python -m infra.support`` manages the supporting stack for ``chalice deploy``.
"""
