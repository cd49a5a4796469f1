"""``sangkien``: the operator's command line for the whole system (see ``sangkien --help``)."""
