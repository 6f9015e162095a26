"""Maps: the interactive offline web map and the static PNG map."""
