"""Stage 2, preprocessing: token steps, phrases, the dictionary, and the prepared corpus folder."""

from topics.preprocessing.export import export_prepared
from topics.preprocessing.prepare import preprocess
from topics.preprocessing.prepared import BagOfWords, PreparedCorpus
from topics.preprocessing.tokenize import Pipeline, load_stopwords

__all__ = ["BagOfWords", "Pipeline", "PreparedCorpus", "export_prepared", "load_stopwords", "preprocess"]
