"""The data set: pinned corpus sources, the (code, summary) pairs built from them, the data card, and the trainers'
tokenized forms of it (``datapack`` for fast_train, ``pairs`` for train)."""
