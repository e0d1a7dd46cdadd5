"""The host side: what the commands do (``run``: ``amaradar sim``; ``build``;
``listen``), where their IQ comes from (``sources``) and the files they write
(``writers``)."""
