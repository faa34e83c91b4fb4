"""Screening quality benchmark: a labelled resume set, its metrics and the TF-IDF baseline."""
