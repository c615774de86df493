"""Telling people a run needs them or has ended, on the channels of the policy's `[notify]`
table (e-mail, Slack, Teams, ntfy, a plain webhook), each message with a signed link to the item.

`notice` says what happened in onloop's words; `formats` turns it into each medium's message with
every untrusted word made inert there; `links` signs and checks the links; `channels` sends one
message; `sender` does it off the run's thread and records every delivery.
"""
