"""SageMaker's health check rules, as numbers (no imports: the CLI reads them for its flags).

"How Your Container Should Respond to Health Check (Ping) Requests"
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html#your-algorithms-inference-algo-ping-requests):
"The request timeout on /ping attempts is 2 seconds", and a new container that does not begin to pass the
health check by consistently answering 200 "during the 8 minutes after startup" fails the instance launch.

The production variant's ``ContainerStartupHealthCheckTimeoutInSeconds`` (CreateEndpointConfig,
ProductionVariant: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html)
sets that start-up window: 60 to 3600 s. The API page gives no default; the hosting page's 8 minutes
(480 s) is what applies when it is not set.

Batch transform ("Use Your Own Inference Code with Batch Transform",
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html) has the same 2 s /ping
timeout and documents no start-up window; smbyo gives a transform container hosting's 480 s.
"""

from __future__ import annotations

PING_TIMEOUT_SECONDS = 2.0
STARTUP_HEALTH_CHECK_MIN_SECONDS = 60
STARTUP_HEALTH_CHECK_MAX_SECONDS = 3600
STARTUP_HEALTH_CHECK_DEFAULT_SECONDS = 480  # "8 minutes after startup"
TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS = STARTUP_HEALTH_CHECK_DEFAULT_SECONDS  # not documented for transform
