"""Deprecated: moved to :mod:`interp.models.mlstm.sample` (issue 17's layout). This path works for one release."""
from interp._moved import alias

alias(__name__, "interp.models.mlstm.sample")
