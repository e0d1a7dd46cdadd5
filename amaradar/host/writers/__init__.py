"""The files ``amaradar sim`` and ``amaradar listen`` write, with stable schemas.

:mod:`.rows` formats a ``detections.csv`` row (shared by both commands);
:mod:`.outputs` writes the files of a run.
"""
