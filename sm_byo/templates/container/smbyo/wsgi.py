"""WSGI entry for gunicorn: the smbyo runtime's Flask app, with the model already loaded."""

from smbyo_runtime.serving import create_app

app = create_app()
