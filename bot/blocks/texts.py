"""User-facing sentences that are not built from data."""

from __future__ import annotations

HELP = (
    "*`/sources`* shows every connected account and whether it still works.\n"
    "• `/sources` — all sources, the ones that need you first\n"
    "• `/sources expired` — only the ones that stopped working\n"
    "• `/sources &lt;network&gt;` — one network, e.g. `/sources linkedin`\n"
    "• `/sources connect &lt;network&gt;` — connect a new account\n"
    "• `/sources settings` — channels, digest, warnings and who may do what\n"
    "• `/sources help` — this message\n"
    "Expired sources have a *Reconnect* button: it gives you a private sign-in link."
)
UNKNOWN_INPUT = "I didn't understand `{text}`."
NO_SOURCES = "No sources yet. Connect one with `/sources connect &lt;network&gt;`."
NO_MATCH = "No {what} sources."
LIST_MORE_HINT = "Narrow the list with `/sources expired` or `/sources &lt;network&gt;`."
HOME_MORE_HINT = "Use `/sources &lt;network&gt;` in any channel to see the rest."
SOURCE_GONE = "That source no longer exists. `/sources` shows the current list."
NOT_CONFIGURED = (
    "{title} is not configured yet: the bot's operator must set `{prefix}_CLIENT_ID` and "
    "`{prefix}_CLIENT_SECRET`."
)
UNKNOWN_NETWORK = "I don't know the network `{name}`. Known networks: {known}."
CONNECT_WHICH = "Which network? Try `/sources connect {example}`."
SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a minute."
LINK_PRIVACY = "This link is only for you, works once and expires in {minutes} minutes."
ONLY_ADMINS = "Only workspace admins and owners can {verb} here."
ONLY_ADMINS_AND_GROUP = "Only workspace admins and owners and members of {group} can {verb} here."
UNINSTALLED = (
    "sources-bot was uninstalled from this workspace. Install it again to bring back its "
    "sources and settings."
)
CHANNEL_ARCHIVED = "That channel is archived. Choose another one."
CHANNEL_PRIVATE = (
    "That channel is private and I'm not in it: type /invite @sources-bot in it, "
    "then choose it again."
)
CHANNEL_UNSEEN = (
    "I can't see that channel. If it is private, type /invite @sources-bot in it first, "
    "then choose it again."
)
CHANNEL_JOIN_FAILED = (
    "I couldn't join that channel (Slack answered “{reason}”). Invite me with "
    "/invite @sources-bot, or choose another one."
)
CHANNEL_CHECK_FAILED = "I couldn't check that channel just now ({reason}). Try again in a minute."
SETTINGS_SAVED = "Settings saved."
CLAIMED = "You're on it: *{label}*. I'll remind you in {hours} if it still needs a person."
TOOK_OVER = (
    "You took *{label}* over from {previous}. I'll remind you in {hours} if it still needs "
    "a person."
)
ALREADY_CLAIMED = "You're already on *{label}*."
SNOOZED = (
    "Snoozed *{label}* until {until}. If it still needs a person then, I'll announce it again."
)
NOTHING_TO_DO = "*{label}* works again: there is nothing to take on or snooze."
CANT_SNOOZE_DEAD = (
    "*{label}* has stopped working, and this workspace doesn't let such sources be snoozed."
)
SNOOZE_UNAVAILABLE = (
    "That choice isn't available for *{label}* now. Pick another one under *Remind me*."
)
