"""Runtime: starting, watching and stopping a session's processes (device, loop, recorder,
camera), and replaying a recorded session through them.

May import everything below it (session, loop, devices, wire); only `cli` and `bench` above.
"""
