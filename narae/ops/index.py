"""Indexing: __getitem__, gather, index_select, masked_fill, scatter_add, sort, topk, one_hot."""
__all__ = []
