"""The outbox and its dispatcher: everything the bot sends because something changed.

Services write outbox rows (:func:`bot.delivery.outbox.enqueue`) in the transaction of the
change; the dispatcher delivers them through the senders (Slack, webhooks).
"""
