"""Maps: the interactive offline web map (folium/Leaflet) and the static PNG map.
"""
