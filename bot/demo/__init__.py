"""`sources-bot demo`: the real bot with a Slack sandbox and a demo network, on one port.

Nothing here is imported by ``serve`` or :mod:`bot.app`; the CLI imports it only for the
``demo`` command.
"""
