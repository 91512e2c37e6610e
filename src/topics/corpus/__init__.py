"""Stage 1, the corpus: readers for every format, turning files into a re-iterable stream of ``Document``s."""

from topics.corpus.documents import CorpusReport, Document, Skipped
from topics.corpus.readers import READERS
from topics.corpus.stream import Corpus, detect_format, read_corpus

__all__ = [
    "READERS",
    "Corpus",
    "CorpusReport",
    "Document",
    "Skipped",
    "detect_format",
    "read_corpus",
]
