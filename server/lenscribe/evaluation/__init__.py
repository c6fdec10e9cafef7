"""`lenscribe eval`: smoothed BLEU-4 (CodeXGLUE), exact match, degenerate-output rate and speed of the summarizer."""

from .bleu import corpus_bleu, sentence_bleu
from .metrics import exact_match, is_degenerate, report

__all__ = ["corpus_bleu", "exact_match", "is_degenerate", "report", "sentence_bleu"]
