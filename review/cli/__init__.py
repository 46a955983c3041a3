"""The ``ethics-review`` command line."""
