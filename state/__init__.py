"""Everything a run persists: the SQLite state (URLs, finished pages, captions), page shards with
their completion markers, and the run files a sharded run's reports are built from.

A crash loses nothing here: the store commits in transactions (WAL), a shard counts only once its
marker is written, and a rerun continues from what these files hold.
"""
