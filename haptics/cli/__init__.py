"""The `haptics` command line."""
