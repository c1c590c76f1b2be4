"""smbyo: take an algorithm to an AWS SageMaker Algorithm or Model Package with one manifest and one CLI."""

__version__ = "0.1.0"
