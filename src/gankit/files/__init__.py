"""Files gankit writes and reads, kept safe: atomic writes, run-folder ownership and
locking, the tolerant reader of ``metrics.jsonl``, and checkpoints (save, safe load,
the newest usable one, pruning).

Nothing here knows about training, models or reports; every other package uses it.
"""
