"""lenscribe's training package (never installed, never imported by the server): run from the checkout as
``PYTHONPATH=models:server python -m lenscribe_training.GROUP.MODULE`` (models/TRAINING.md).

``data`` builds the (code, summary) data set and its tokenized forms, ``teacher`` labels code with an LLM, ``trainers``
holds the two trainers, ``export`` moves models out of and back into them; ``runlog`` is the log all of them write and
``runs/`` keeps the training record of each shipped model.
"""
