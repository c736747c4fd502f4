"""Files gankit writes and reads, kept safe: atomic writes, run-folder ownership and
locking, and the tolerant reader of ``metrics.jsonl``.

Nothing here knows about training, models or reports; every other package uses it.
"""
