"""Answering stage: quote candidates, their features, a learned ranker, declining and citing. Loads nothing."""

from .analysis import detect_lang
from .answerer import ExtractiveAnswerer, Scored
from .candidates import Candidate
from .citing import LEAD, NO_ANSWER
from .model_file import AnswerModelError
from .vectors import EmbeddedSentenceVectors, SentenceVectorSource

__all__ = ["LEAD", "NO_ANSWER", "AnswerModelError", "Candidate", "EmbeddedSentenceVectors", "ExtractiveAnswerer",
           "Scored", "SentenceVectorSource", "detect_lang"]
