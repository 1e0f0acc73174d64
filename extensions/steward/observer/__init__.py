"""Observer: daily and weekly reflections with computed figures (issue 6).

`routes` serves them; `pipeline` runs each one as a resumable pipeline (gather, aggregate,
narrate, store); `gather` reads Steward's records with SQL; `stats` and `weekly` compute every
figure; `narrate` and `render` turn figures into prose, Markdown, a Coda row and a memory.
"""
