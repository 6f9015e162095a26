/* siteplan map helpers: data layers, legend, title, fullscreen, measure and parcel search.
 * Written for siteplan (MIT); needs only Leaflet 1.9.  Text that comes from data is HTML-escaped
 * in Python before it is embedded; strings built here from raw values go through SP.esc or
 * textContent, never straight into innerHTML. */
(function () {
  'use strict';
  var SP = (window.SP = window.SP || {});
  SP.parcels = {}; // parcel id -> {layer, group}, for the search box and for tests

  SP.esc = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  };

  // Popup table from pre-escaped labels and values.
  function table(title, head, vals) {
    var out = ['<div class="sp-popup">'];
    if (title) out.push('<div class="sp-popup-title">' + title + '</div>');
    out.push('<table>');
    for (var i = 0; i < head.length; i++) {
      if (vals[i] === null || vals[i] === undefined) continue;
      out.push('<tr><th>' + head[i] + '</th><td>' + vals[i] + '</td></tr>');
    }
    out.push('</table></div>');
    return out.join('');
  }

  /* A GeoJSON layer whose features carry properties:
   *   id  raw id (search index; compared, never inserted as HTML)
   *   t   tooltip (escaped HTML)   v  popup values (escaped HTML, aligned with o.head)
   *   c   fill/stroke colour       h  popup title (escaped HTML)
   * Options: className, pane, head, style, radius, search. */
  SP.geoLayer = function (data, o) {
    var layer = L.geoJSON(data, {
      pane: o.pane,
      className: o.className,
      interactive: o.interactive !== false,
      style: function (f) {
        var s = L.extend({}, o.style);
        if (f.properties.c) {
          s.fillColor = f.properties.c;
          if (o.strokeFromColour) s.color = f.properties.c;
        }
        return s;
      },
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, {
          pane: o.pane,
          className: o.className,
          radius: o.radius || 6,
          interactive: o.interactive !== false,
        });
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        if (p.v) {
          lyr.bindPopup(function () { return table(p.h, o.head, p.v); }, { maxWidth: 420 });
        }
        if (p.t) lyr.bindTooltip(p.t, { sticky: true });
      },
    });
    if (o.search) {
      layer.eachLayer(function (l) {
        SP.parcels[l.feature.properties.id] = { layer: l, group: layer };
      });
    }
    return layer;
  };

  // Rank numbers for the top-N parcels: rows of [lat, lon, rank].
  SP.rankLayer = function (rows, pane) {
    var g = L.layerGroup();
    rows.forEach(function (r) {
      var icon = L.divIcon({
        className: 'sp-rank',
        html: '<span>' + SP.esc(r[2]) + '</span>',
        iconSize: [22, 22],
        iconAnchor: [11, 11],
      });
      L.marker([r[0], r[1]], { icon: icon, pane: pane, interactive: false, keyboard: false }).addTo(g);
    });
    return g;
  };

  // Basemap: one or more tile layers shown together (e.g. Tianditu vector + labels).
  SP.tiles = function (specs) {
    return L.layerGroup(specs.map(function (s) { return L.tileLayer(s.url, s.options); }));
  };

  SP.empty = function () { return L.layerGroup(); };

  SP.pane = function (map, name, z) {
    if (!map.getPane(name)) map.createPane(name).style.zIndex = z;
  };

  // Always-on credit, whatever basemap is chosen (the data is OSM-derived).
  SP.credit = function (map, html) {
    if (map.attributionControl) map.attributionControl.addAttribution(html);
    else L.control.attribution({ prefix: false }).addAttribution(html).addTo(map);
  };

  SP.legend = function (map, html) {
    var c = L.control({ position: 'bottomright' });
    c.onAdd = function () {
      var d = L.DomUtil.create('div', 'sp-legend');
      d.innerHTML = html; // built and escaped in Python
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    c.addTo(map);
  };

  SP.title = function (map, html) {
    var d = L.DomUtil.create('div', 'sp-title', map.getContainer());
    d.innerHTML = html; // escaped in Python
  };

  function button(container, text, title) {
    var a = L.DomUtil.create('a', 'sp-button', container);
    a.href = '#';
    a.title = title;
    a.setAttribute('role', 'button');
    a.setAttribute('aria-label', title);
    a.textContent = text;
    return a;
  }

  // Fullscreen via the Fullscreen API; a CSS fallback where the API is missing.
  SP.fullscreen = function (map) {
    var c = L.control({ position: 'topleft' });
    c.onAdd = function () {
      var box = L.DomUtil.create('div', 'leaflet-bar sp-fullscreen');
      var a = button(box, '\u26F6', '\u5168\u5C4F Full screen');
      var el = map.getContainer();
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        if (document.fullscreenElement) {
          document.exitFullscreen();
        } else if (el.requestFullscreen) {
          el.requestFullscreen().catch(function () { L.DomUtil.addClass(el, 'sp-pseudo-fullscreen'); map.invalidateSize(); });
        } else {
          if (L.DomUtil.hasClass(el, 'sp-pseudo-fullscreen')) L.DomUtil.removeClass(el, 'sp-pseudo-fullscreen');
          else L.DomUtil.addClass(el, 'sp-pseudo-fullscreen');
          map.invalidateSize();
        }
      });
      document.addEventListener('fullscreenchange', function () { map.invalidateSize(); });
      return box;
    };
    c.addTo(map);
  };

  SP.formatDistance = function (m) {
    return m < 1000 ? m.toFixed(0) + ' m' : (m / 1000).toFixed(2) + ' km';
  };

  // Measure a polyline by clicking; great-circle length from L.LatLng.distanceTo.
  SP.measure = function (map) {
    var c = L.control({ position: 'topleft' });
    var state = { active: false, pts: [], total: 0 };
    var line = L.polyline([], { color: '#c00', weight: 3, dashArray: '6 4', interactive: false });
    var dots = L.layerGroup();
    c.onAdd = function () {
      var box = L.DomUtil.create('div', 'leaflet-bar sp-measure');
      var a = button(box, '\u2194', '\u6D4B\u8DDD Measure distance');
      var out = L.DomUtil.create('div', 'sp-measure-out', box);
      L.DomEvent.disableClickPropagation(box);
      function onClick(e) {
        state.pts.push(e.latlng);
        if (state.pts.length > 1) state.total += state.pts[state.pts.length - 2].distanceTo(e.latlng);
        line.setLatLngs(state.pts);
        L.circleMarker(e.latlng, { radius: 3, color: '#c00', interactive: false }).addTo(dots);
        out.textContent = SP.formatDistance(state.total);
        map.closePopup();
      }
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        state.active = !state.active;
        if (state.active) {
          state.pts = [];
          state.total = 0;
          line.setLatLngs([]).addTo(map);
          dots.clearLayers().addTo(map);
          out.textContent = '\u70B9\u51FB\u5730\u56FE Click the map';
          L.DomUtil.addClass(box, 'sp-active');
          L.DomUtil.addClass(map.getContainer(), 'sp-measuring');
          map.doubleClickZoom.disable();
          map.on('click', onClick);
        } else {
          L.DomUtil.removeClass(box, 'sp-active');
          L.DomUtil.removeClass(map.getContainer(), 'sp-measuring');
          map.doubleClickZoom.enable();
          map.off('click', onClick);
          if (!state.pts.length) out.textContent = '';
        }
      });
      return box;
    };
    c.addTo(map);
    SP.measureState = state;
  };

  // Find a parcel by id: zoom to it and open its popup.
  SP.search = function (map, placeholder) {
    var c = L.control({ position: 'topleft' });
    c.onAdd = function () {
      var box = L.DomUtil.create('form', 'sp-search leaflet-bar');
      var input = L.DomUtil.create('input', '', box);
      input.type = 'search';
      input.placeholder = placeholder;
      input.setAttribute('aria-label', placeholder);
      input.setAttribute('list', 'sp-parcel-ids');
      var list = L.DomUtil.create('datalist', '', box);
      list.id = 'sp-parcel-ids';
      Object.keys(SP.parcels).sort().forEach(function (id) {
        var opt = document.createElement('option');
        opt.value = id;
        list.appendChild(opt);
      });
      var msg = L.DomUtil.create('div', 'sp-search-msg', box);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      L.DomEvent.on(box, 'submit', function (e) {
        L.DomEvent.preventDefault(e);
        var hit = SP.parcels[input.value.trim()];
        if (!hit) {
          msg.textContent = '\u672A\u627E\u5230 Not found';
          return;
        }
        msg.textContent = '';
        if (!map.hasLayer(hit.group)) map.addLayer(hit.group);
        map.fitBounds(hit.layer.getBounds(), { maxZoom: 17 });
        hit.layer.openPopup();
      });
      return box;
    };
    c.addTo(map);
  };
})();
