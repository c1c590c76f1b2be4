"""smbyo's in-container runtime: the SageMaker container contract around the user's code.

It is copied into every image as the ``smbyo_runtime`` package (render.py) and must import nothing
from ``sm_byo``: inside the container only the standard library, numpy, flask and gunicorn exist.
The user's ``predictor.py`` may raise :class:`InvalidInput` (or any ``ValueError``) for requests it
cannot serve; the server answers them with HTTP 400 and the message.
"""

from .errors import InvalidInput, UnsupportedMediaType

__all__ = ["InvalidInput", "UnsupportedMediaType"]
