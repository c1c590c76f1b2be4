"""SageMaker on AWS: push, train, transform, host and wait, each a function the CLI calls once."""
