"""CosineSimilarity and PairwiseDistance modules."""

__all__ = []
