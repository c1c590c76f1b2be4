"""gunicorn settings for smbyo's model server (workers and timeout come from the command line)."""

import os

# Load the app (and the model) once in the master; workers share it copy-on-write.
preload_app = True
worker_class = "sync"
graceful_timeout = 20
# nginx keeps the access log; gunicorn logs errors only, to stderr.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Each worker touches a heartbeat file at every request; on the container's overlay filesystem that costs
# a few per cent of a 1-row request's CPU, on tmpfs next to nothing. gunicorn's docs advise /dev/shm in
# Docker (https://docs.gunicorn.org/en/stable/faq.html#blocking-os-fchmod); elsewhere gunicorn's default.
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
