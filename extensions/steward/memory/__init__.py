"""The memory gateway: what makes every other service personal.

routes.py      /api/v1/memory (HTTP only: validate, call, shape)
service.py     remember / recall / find_duplicates: the in-process API other services use
store.py       memories in Postgres (the truth): dedup by content hash, validity, candidates
retrieval.py   hybrid recall: Qdrant vectors + Postgres full-text, fused, time-aware
fulltext.py    IDF-weighted full-text search shared by memories and document chunks
fusion.py      reciprocal rank fusion;  timeexpr.py  "last week", "recently"...
documents.py   ingest (chunking.py) and search of documents
facts.py       facts that supersede with history;  graph.py  nodes, edges, neighbours, paths
similar.py     events in vector space;  compaction.py  merging, retention, age-and-use score
indexing.py    what `steward reindex` rebuilds;  caching.py / usage.py  cache and use counters
"""
