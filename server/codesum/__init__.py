"""codesum: two-line summaries of every function and class, from a local quantized CodeT5 model."""

__version__ = "0.1.0"
