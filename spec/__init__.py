"""The floor below everything: pure Python, no Amaranth.

Physical constants (:mod:`.physics`), the parameter checks every layer uses
(:mod:`.checks`), the records the chain reports, declared once with their
widths and units (:mod:`.records`), and the report link's wire protocol
(:mod:`.link`). The gateware layouts, the models' numpy dtypes, the CSV columns
and the link frames are all derived from these declarations.
"""
