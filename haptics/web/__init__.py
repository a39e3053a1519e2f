"""The annotation workbench: a browser UI and a JSON API over a dataset's label store.

`haptics annotate serve DATASET` runs it (Starlette on uvicorn). Every rule is enforced by
the API (`auth.authorize`, which every route goes through), never by hiding buttons: the
label store checks roles, assignments and blindness, and this layer adds logins (argon2
hashes, signed session cookies), CSRF tokens on writes, request size limits and path checks.
Every script and style it serves ships in `haptics/web/static` (it works offline).
"""
