"""Intake: seized assets through their legal life, state mining output, committee purchases."""
