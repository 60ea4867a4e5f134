"""The catalog: the intent files, checked, as the immutable objects the bot serves.

One job per module, in the order a folder of intent files goes through them:

- files.py     which files belong to a catalog (the loader, the folder watcher and /reload share it)
- read.py      YAML with a line and column on every value, refusing hostile input
- problems.py  a problem at file:line:col, and the reporter each file reports its problems through
- entries.py   what each file says, as positioned records, with every problem of shape
- rules.py     the rules, one function per rule: across files, then through the matcher and detector
- build.py     the immutable Catalog, each part built only once its rules pass
- schema.py    the immutable catalog types the matcher, safety and the engine use
- load.py      the front door: load_catalog, analyse, check and load_for_serving

Nothing is re-exported here: callers import from the module that holds a name. The matcher, safety
and the engine import schema.py, and an __init__ that imported the loader would make each of them
load the whole checker, which itself imports the matcher and safety (a cycle at start-up).
"""
