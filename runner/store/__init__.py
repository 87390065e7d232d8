"""The results store of a sweep: SQLite rows beside the artifacts.

The leaderboard itself is the scorer's (`scorer.ranking`); `ResultsStore.leaderboard()`
ranks the store's cells with it and `runner.store.export` prints or exports the rows.
"""

from runner.store.db import DB_NAME, ResultsStore

__all__ = ["DB_NAME", "ResultsStore"]
