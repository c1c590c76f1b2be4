"""Pure request builders: manifest -> boto3 kwargs (no I/O, no boto3)."""
