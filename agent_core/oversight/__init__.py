"""Oversight: the policy and its rules (what a call will really touch), drift monitors and the
judge, redaction and inert text, human decisions and control of runs, sign-in roles."""
