"""The Telegram channel, one job per module:

- ``handlers``: what each kind of update does (a message, a button, a group, a block), and erasing;
- ``chats``: per-chat turns and the message ids the bot may still delete, in memory;
- ``store_queue``: store writes in one ordered queue that never holds up a reply;
- ``send``: sending replies within Telegram's limits, with retries, and the send gate;
- ``poll`` and ``webhook``: the two ways updates arrive, each confirming an update once answered;
- ``updates``: reading and handling one update safely; ``delivery_log``: what was answered, across restarts;
- ``admin``: /stats, /reload and the intent-folder watcher; ``logs``: log lines that carry no user data;
- ``app``: building the Application and the one start and stop path (``run`` for `python -m bot run`).
"""
