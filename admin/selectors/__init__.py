"""Every query the pages make, one module per face: each a named function, so a view parses the
request, calls a selector or one service function, and renders.

Functions that read take the ``session`` first; those that build a list's statement return it
unexecuted, because ``admin.web.paged`` runs it twice (the page's rows and the total).
"""
