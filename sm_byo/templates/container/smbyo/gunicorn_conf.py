"""gunicorn settings for smbyo's model server (workers and timeout come from the command line)."""

# Load the app (and the model) once in the master; workers share it copy-on-write.
preload_app = True
worker_class = "sync"
graceful_timeout = 20
# nginx keeps the access log; gunicorn logs errors only, to stderr.
accesslog = None
errorlog = "-"
loglevel = "warning"
