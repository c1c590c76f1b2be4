"""The AWS test harness: moto's HTTP server on 127.0.0.1, extended so SageMaker really runs things.

- :mod:`tests.aws.harness` starts ``ThreadedMotoServer`` once per session, resets it between tests
  (``POST /moto-api/reset``) and gives subprocess CLI calls the environment that points boto3 at it.
- Extensions are modules named ``tests/aws/moto_*.py`` with ``install(harness)`` (patch moto classes
  through ``harness.patch``, restored at the end of the session) and optionally ``reset(harness)``.
  The harness discovers and installs every one of them, so another extension (e.g.
  ``moto_algorithms.py`` for CreateAlgorithm) only has to exist.
- :mod:`tests.aws.moto_ext` makes training jobs, transform jobs and endpoints real (containers).
- :mod:`tests.aws.moto_tuning` adds hyperparameter tuning jobs whose trials are real training jobs.
- :mod:`tests.aws.registry` runs Debian's ``docker-registry`` with htpasswd as the ECR registry.
- :mod:`tests.aws.fixtures` holds the pytest fixtures; test modules import the ones they use.
"""
