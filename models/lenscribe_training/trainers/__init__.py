"""The two trainers: ``fast_train`` (a T5 in plain PyTorch over a data pack) and ``train`` (transformers' T5 over a
pre-tokenized cache), with what they share (``evaluation``, ``machine``, ``embedding_init``) and the lent-GPU drivers
(``gpu_recipe.sh``, ``train_gpu.sh``)."""
