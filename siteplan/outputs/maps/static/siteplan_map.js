/* siteplan map helpers (MIT, part of siteplan): data layers, popups, legend, title, credit,
 * fullscreen, measure and parcel search.  Needs only Leaflet 1.9's public API.
 *
 * Why hand-written: no package on PyPI ships the Leaflet fullscreen, measure or search plugins
 * as files (the xstatic-* family has Leaflet and MarkerCluster only; folium links them from CDNs),
 * and an offline map may not fetch anything.  Each control here is a few dozen lines and is
 * exercised by tests/test_browser.py.
 *
 * Text that comes from data is HTML-escaped in Python before it is embedded; strings built here
 * from raw values go through SP.esc or textContent, never straight into innerHTML. */
(function () {
  'use strict';
  var SP = (window.SP = window.SP || {});
  // parcel id -> {layer, group}: the search box and the tests use it.  No prototype, so an id
  // such as "__proto__" or "constructor" is just a key.
  SP.parcels = Object.create(null);

  SP.esc = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' }[c];
    });
  };

  /* Popup HTML for feature i.  head: [{s: section title} | {l: row label, k: column}], all
   * escaped in Python; d.v[k][i] is the escaped value or null (row left out).  A section title
   * is shown only when one of its rows has a value. */
  function popupHtml(head, d, i) {
    var out = ['<div class="sp-popup">'];
    var title = d.h ? d.h[i] : d.t ? d.t[i] : null; // no h: the tooltip is the title
    if (title) out.push('<div class="sp-popup-title">' + title + '</div>');
    out.push('<table>');
    var section = null;
    for (var r = 0; r < head.length; r++) {
      var row = head[r];
      if (row.s !== undefined) { section = row.s; continue; }
      var v = d.v[row.k][i];
      if (v === null || v === undefined) continue;
      if (section !== null) {
        out.push('<tr class="sp-section"><th colspan="2">' + section + '</th></tr>');
        section = null;
      }
      out.push('<tr><th>' + row.l + '</th><td>' + v + '</td></tr>');
    }
    out.push('</table></div>');
    return out.join('');
  }

  function markerIcon(o) {
    return L.divIcon({
      className: 'sp-marker ' + o.className,
      html: '<span style="background:' + SP.esc(o.colour) + '">' + SP.esc(o.symbol) + '</span>',
      iconSize: [18, 18],
      iconAnchor: [9, 9],
    });
  }

  /* A layer from column arrays: d.g geometries (GeoJSON, lon/lat), d.t tooltips, d.c colours,
   * d.h popup titles, d.v popup columns, d.id parcel ids (all optional but g).
   * o: pane, className, style, head, search, interactive, marker ({colour, symbol, className}),
 * dots (points as small SVG dots, cheaper than symbols; not canvas, whose element would catch
 * the clicks meant for the parcels below it). */
  SP.geoLayer = function (d, o) {
    var features = d.g.map(function (g, i) {
      return { type: 'Feature', geometry: g, properties: { i: i } };
    });
    var interactive = o.interactive !== false;
    var icon = o.marker ? markerIcon(o.marker) : null;
    var layer = L.geoJSON({ type: 'FeatureCollection', features: features }, {
      pane: o.pane,
      interactive: interactive,
      style: function (f) {
        var s = L.extend({ className: o.className, interactive: interactive }, o.style);
        if (d.c) s.fillColor = d.c[f.properties.i];
        return s;
      },
      pointToLayer: function (f, ll) {
        if (o.dots) {
          return L.circleMarker(ll, {
            pane: o.pane, interactive: interactive, radius: 3, weight: 0.5,
            color: '#fff', fillColor: o.marker.colour, fillOpacity: 0.9,
          });
        }
        return L.marker(ll, { icon: icon, pane: o.pane, interactive: interactive, keyboard: false });
      },
      onEachFeature: function (f, lyr) {
        var i = f.properties.i;
        if (o.head && d.v) {
          lyr.bindPopup(function () { return popupHtml(o.head, d, i); },
            { maxWidth: 460, maxHeight: 420, autoPanPadding: [20, 20] });
        }
        if (d.t) lyr.bindTooltip(d.t[i], { sticky: true, direction: 'top', opacity: 0.95 });
        if (o.search && d.id) SP.parcels[d.id[i]] = { layer: lyr, group: null };
      },
    });
    if (o.search && d.id) {
      d.id.forEach(function (id) { SP.parcels[id].group = layer; });
    }
    return layer;
  };

  // Rank numbers for the top-N parcels: rows of [lat, lon, rank].  Labels never overlap: after
  // every zoom they are placed best rank first, each at its parcel when that spot is free, else
  // at the nearest free spot on rings around it, with a leader line back to the parcel.
  SP.rankLayer = function (rows, pane) {
    var g = L.layerGroup(), items = [];
    rows.slice().sort(function (a, b) { return a[2] - b[2]; }).forEach(function (r) {
      var icon = L.divIcon({
        className: 'sp-rank',
        html: '<i class="sp-rank-leader"></i><span>' + SP.esc(r[2]) + '</span>',
        iconSize: [0, 0],
        iconAnchor: [0, 0],
      });
      var m = L.marker([r[0], r[1]], {
        // Leaflet stacks markers by their y plus this offset: steps this large stack by rank.
        icon: icon, pane: pane, interactive: false, keyboard: false, zIndexOffset: -1e4 * r[2],
      });
      items.push(m);
      m.addTo(g);
    });
    function layout() {
      if (!g._map) return;
      var map = g._map, placed = [];
      items.forEach(function (m) {
        var el = m.getElement();
        if (!el) return;
        var span = el.querySelector('span'), line = el.querySelector('i');
        var w = span.offsetWidth || 24, h = span.offsetHeight || 24, gap = 2;
        var p = map.latLngToLayerPoint(m.getLatLng());
        var best = null;
        if (!isFinite(p.x) || !isFinite(p.y)) return;
        for (var k = 0; best === null && k < 400; k++) {
          var n = k === 0 ? 1 : 8 * k;
          for (var j = 0; j < n && best === null; j++) {
            var a = 2 * Math.PI * j / n - Math.PI / 2;
            var dx = Math.round(k * (w + 2) * 0.75 * Math.cos(a));
            var dy = Math.round(k * (h + 2) * 0.75 * Math.sin(a));
            var box = [p.x + dx - w / 2 - gap, p.y + dy - h / 2 - gap,
                       p.x + dx + w / 2 + gap, p.y + dy + h / 2 + gap];
            var free = placed.every(function (b) {
              return box[2] <= b[0] || box[0] >= b[2] || box[3] <= b[1] || box[1] >= b[3];
            });
            if (free) { best = [dx, dy]; placed.push(box); }
          }
        }
        best = best || [0, 0];
        span.style.left = (best[0] - w / 2) + 'px';
        span.style.top = (best[1] - h / 2) + 'px';
        var len = Math.sqrt(best[0] * best[0] + best[1] * best[1]);
        line.style.display = len > 0 ? 'block' : 'none';
        line.style.width = len + 'px';
        line.style.transform = 'rotate(' + Math.atan2(best[1], best[0]) + 'rad)';
        el.classList.toggle('sp-rank-moved', len > 0);
      });
    }
    g.on('add', function () {
      g._map.on('zoomend', layout);
      layout();
    });
    g.on('remove', function (e) { e.target._map && e.target._map.off('zoomend', layout); });
    g.layout = layout;
    SP.ranks = g;
    return g;
  };

  // The ranked side list: one row per top-N parcel (rank, id, score); a click zooms to the
  // parcel, outlines it and opens its popup.  Rows: [rank, id, score text].
  SP.rankList = function (map, title, rows) {
    var c = L.control({ position: 'bottomleft' });
    c.onAdd = function () {
      var div = L.DomUtil.create('details', 'sp-ranklist leaflet-bar');
      div.innerHTML = '<summary>' + title + '</summary>';
      var list = L.DomUtil.create('ol', '', div);
      var lit = null;
      rows.forEach(function (r) {
        var li = L.DomUtil.create('li', '', list);
        li.innerHTML = '<b>' + SP.esc(r[0]) + '</b> ' + SP.esc(r[1]) +
          ' <span>' + SP.esc(r[2]) + '</span>';
        li.setAttribute('data-id', r[1]);
        L.DomEvent.on(li, 'click', function (e) {
          L.DomEvent.stop(e);
          var hit = SP.parcels[r[1]];
          if (!hit) return;
          if (hit.group && !map.hasLayer(hit.group)) map.addLayer(hit.group);
          if (lit) lit.layer.setStyle({ weight: 1, color: '#333' });
          hit.layer.setStyle({ weight: 4, color: '#ffd400' });
          hit.layer.bringToFront();
          lit = hit;
          Array.prototype.forEach.call(list.children, function (x) {
            x.classList.toggle('sp-on', x === li);
          });
          map.fitBounds(hit.layer.getBounds(), { maxZoom: 17, animate: false });
          hit.layer.openPopup(hit.layer.getBounds().getCenter());
        });
      });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    c.addTo(map);
    return c;
  };

  // Parcels flagged by a rule (e.g. meeting all three seed radii), outlined: the shapes are
  // taken from the parcel layers already on the page, so no geometry is repeated.
  SP.flagLayer = function (ids, o) {
    var feats = [];
    ids.forEach(function (id) {
      var hit = SP.parcels[id];
      if (hit) feats.push({ type: 'Feature', geometry: hit.layer.feature.geometry, properties: {} });
    });
    return L.geoJSON({ type: 'FeatureCollection', features: feats }, {
      pane: o.pane, interactive: false,
      style: function () { return L.extend({ className: o.className, interactive: false }, o.style); },
    });
  };

  // Leaflet's layer control with the layers under collapsible headings (<details>), in the
  // order of options.groups ([key, heading, open]); a layer names its key in layer.spGroup.
  SP.LayerControl = L.Control.Layers.extend({
    _update: function () {
      this._spDetails = {};
      this._spOpen = this._spOpen || {};
      return L.Control.Layers.prototype._update.call(this);
    },
    _addItem: function (obj) {
      var item = L.Control.Layers.prototype._addItem.call(this, obj);
      var groups = this.options.groups || [], key = obj.layer.spGroup || 'other';
      var at = groups.map(function (g) { return g[0]; }).indexOf(key);
      var d = this._spDetails[key], self = this;
      if (!d) {
        var list = obj.overlay ? this._overlaysList : this._baseLayersList;
        d = document.createElement('details');
        d.className = 'sp-group sp-group-' + key;
        d.open = key in this._spOpen ? this._spOpen[key] : (at < 0 || groups[at][2]);
        var title = document.createElement('summary');
        title.innerHTML = at < 0 ? SP.esc(key) : groups[at][1];
        d.appendChild(title);
        d.setAttribute('data-order', at < 0 ? groups.length : at);
        var before = null;
        Array.prototype.forEach.call(list.children, function (x) {
          if (!before && x.tagName === 'DETAILS' && +x.getAttribute('data-order') > (at < 0 ? groups.length : at)) before = x;
        });
        list.insertBefore(d, before);
        d.addEventListener('toggle', function () { self._spOpen[key] = d.open; });
        this._spDetails[key] = d;
      }
      d.appendChild(item);
      return item;
    },
  });

  // Basemap: tile layers shown together (Tianditu: base + labels), or none.
  SP.tiles = function (specs) {
    return L.layerGroup(specs.map(function (s) { return L.tileLayer(s.url, s.options); }));
  };

  // The map, for the search box and for scripts (and tests) that need to reach it.
  SP.init = function (map) { SP.map = map; };

  SP.pane = function (map, name, z) {
    if (!map.getPane(name)) map.createPane(name).style.zIndex = z;
  };

  SP.scale = function (map) {
    L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
  };

  // Always-on credit, whatever basemap is chosen: the facilities and streets come from OSM.
  SP.credit = function (map, html) {
    map.attributionControl.addAttribution(html);
  };

  // The legend folds away under its heading (a laptop screen needs the room).
  SP.legend = function (map, html, title) {
    var c = L.control({ position: 'bottomright' });
    c.onAdd = function () {
      var d = L.DomUtil.create('div', 'sp-legend');
      // Built and escaped in Python.
      d.innerHTML = title ? '<details open><summary>' + title + '</summary>' + html + '</details>'
        : html;
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

  // Fullscreen through the Fullscreen API; a CSS "pseudo fullscreen" where it is refused.
  SP.fullscreen = function (map, title) {
    var c = L.control({ position: 'topleft' });
    c.onAdd = function () {
      var box = L.DomUtil.create('div', 'leaflet-bar sp-fullscreen');
      var a = button(box, '', title);
      // Four corner brackets, drawn as SVG: no font has to carry a fullscreen glyph.
      a.innerHTML = '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">' +
        '<path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5" fill="none" stroke="#222" ' +
        'stroke-width="2"/></svg>';
      var el = map.getContainer();
      function pseudo(on) {
        if (on) L.DomUtil.addClass(el, 'sp-pseudo-fullscreen');
        else L.DomUtil.removeClass(el, 'sp-pseudo-fullscreen');
        map.invalidateSize();
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        if (document.fullscreenElement) document.exitFullscreen();
        else if (L.DomUtil.hasClass(el, 'sp-pseudo-fullscreen')) pseudo(false);
        else if (el.requestFullscreen) el.requestFullscreen().catch(function () { pseudo(true); });
        else pseudo(true);
      });
      document.addEventListener('fullscreenchange', function () { map.invalidateSize(); });
      return box;
    };
    c.addTo(map);
  };

  SP.formatDistance = function (m) {
    return m < 1000 ? m.toFixed(0) + ' m' : (m / 1000).toFixed(2) + ' km';
  };

  SP.formatArea = function (a) {
    return a < 10000 ? a.toFixed(0) + ' m\u00B2' : (a / 10000).toFixed(2) + ' ha';
  };

  // Area of a lon/lat ring in m², on a local equirectangular plane (exact enough at site scale).
  SP.ringArea = function (pts) {
    if (pts.length < 3) return 0;
    var R = 6371008.8, rad = Math.PI / 180, lat0 = pts[0].lat * rad, s = 0;
    var xy = pts.map(function (p) {
      return [R * (p.lng - pts[0].lng) * rad * Math.cos(lat0), R * (p.lat - pts[0].lat) * rad];
    });
    for (var i = 0; i < xy.length; i++) {
      var j = (i + 1) % xy.length;
      s += xy[i][0] * xy[j][1] - xy[j][0] * xy[i][1];
    }
    return Math.abs(s) / 2;
  };

  /* Measure a path by clicking: length along it (great circle, L.LatLng.distanceTo) and, from
   * three points on, the area it encloses.  The button switches measuring on and off. */
  SP.measure = function (map, title, hint) {
    var c = L.control({ position: 'topleft' });
    var state = { active: false, pts: [], total: 0, area: 0 };
    var line = L.polyline([], { color: '#c00', weight: 3, dashArray: '6 4', interactive: false });
    var dots = L.layerGroup();
    c.onAdd = function () {
      var box = L.DomUtil.create('div', 'leaflet-bar sp-measure');
      var a = button(box, '\u2194', title);
      var out = L.DomUtil.create('div', 'sp-measure-out', box);
      L.DomEvent.disableClickPropagation(box);
      function show() {
        var text = SP.formatDistance(state.total);
        if (state.pts.length > 2) text += ' \u00B7 ' + SP.formatArea(state.area);
        out.textContent = text;
      }
      function onClick(e) {
        var p = state.pts;
        p.push(e.latlng);
        if (p.length > 1) state.total += p[p.length - 2].distanceTo(e.latlng);
        state.area = SP.ringArea(p);
        line.setLatLngs(p);
        L.circleMarker(e.latlng, { radius: 3, color: '#c00', interactive: false }).addTo(dots);
        show();
        map.closePopup();
      }
      L.DomEvent.on(a, 'click', function (e) {
        L.DomEvent.preventDefault(e);
        state.active = !state.active;
        var el = map.getContainer();
        if (state.active) {
          state.pts = [];
          state.total = 0;
          state.area = 0;
          line.setLatLngs([]).addTo(map);
          dots.clearLayers().addTo(map);
          out.textContent = hint;
          L.DomUtil.addClass(box, 'sp-active');
          L.DomUtil.addClass(el, 'sp-measuring');
          map.doubleClickZoom.disable();
          map.on('click', onClick);
        } else {
          L.DomUtil.removeClass(box, 'sp-active');
          L.DomUtil.removeClass(el, 'sp-measuring');
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

  // Find a parcel by id: show its layer, zoom to it and open its popup.
  SP.search = function (map, placeholder, notFound) {
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
          msg.textContent = notFound;
          return;
        }
        msg.textContent = '';
        if (!map.hasLayer(hit.group)) map.addLayer(hit.group);
        map.fitBounds(hit.layer.getBounds(), { maxZoom: 17 });
        hit.layer.openPopup(hit.layer.getBounds().getCenter());
      });
      return box;
    };
    c.addTo(map);
  };
})();
