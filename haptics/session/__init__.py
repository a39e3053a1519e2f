"""Sessions: the recorder and camera processes, video, the manifest, reading a session back,
QA, repair and plots.

May import `haptics.loop`, `haptics.devices` and `haptics.wire`; never `haptics.runtime`,
`haptics.dataset` or anything above.
"""
