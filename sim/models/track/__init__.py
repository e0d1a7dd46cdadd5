"""Models of ``amaradar.hdl.track``: the tracker's bit-exact model and its ideal float twin."""
