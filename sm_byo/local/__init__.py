"""The local SageMaker: train, transform, serve and invoke in Docker under the container contract.

Each runner prepares what SageMaker would (the /opt/ml tree, the environment, the HTTP calls of
batch transform), runs the image with the Docker adapter and always removes its container, also on
Ctrl-C. Nothing here prints: progress goes through a :class:`~sm_byo.reporting.Reporter`.
"""
