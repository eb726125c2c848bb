"""One widget per panel. Each renders the state it is handed and never reads maps, files or clocks."""
