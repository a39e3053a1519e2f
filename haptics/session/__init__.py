"""Sessions: the recorder and camera processes, video, the manifest, reading a session back,
QA, repair and plots.

Inside, from the bottom up: `manifest` and `streams` (Arrow schemas, hashes, safe paths,
reading damaged files), `clock` and `figures` (pure), then `recorder`, `reading`; `qa`,
`repair` and `plot` read through `reading`. The recorder and the reader never import each
other (checked by the import-linter contracts).

May import `haptics.loop`, `haptics.devices` and `haptics.wire`; never `haptics.runtime`,
`haptics.dataset` or anything above.
"""
