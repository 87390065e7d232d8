"""Advance widths of DejaVu Sans at 11px, the table badge text widths are computed from.

shields.io measures badge text with a per-character width table (Verdana 11px) instead of
asking a browser; we do the same with DejaVu Sans (free, and what Debian renders when
Verdana is missing). The table below was generated from the font's own metrics by
`python -m report.fontwidths /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf`; the
generator is kept here so anyone can check or regenerate it.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

#: Width used for characters missing from the table (a wide glyph, so text never overflows).
FALLBACK = 7.81

# fmt: off
WIDTHS: dict[str, float] = {
    ' ': 3.5, '!': 4.41, '"': 5.06, '#': 9.22, '$': 7.0, '%': 10.45, '&': 8.58, "'": 3.02,
    '(': 4.29, ')': 4.29, '*': 5.5, '+': 9.22, ',': 3.5, '-': 3.97, '.': 3.5, '/': 3.71,
    '0': 7.0, '1': 7.0, '2': 7.0, '3': 7.0, '4': 7.0, '5': 7.0, '6': 7.0, '7': 7.0, '8': 7.0,
    '9': 7.0, ':': 3.71, ';': 3.71, '<': 9.22, '=': 9.22, '>': 9.22, '?': 5.84, '@': 11.0,
    'A': 7.52, 'B': 7.55, 'C': 7.68, 'D': 8.47, 'E': 6.95, 'F': 6.33, 'G': 8.52, 'H': 8.27,
    'I': 3.24, 'J': 3.24, 'K': 7.21, 'L': 6.13, 'M': 9.49, 'N': 8.23, 'O': 8.66, 'P': 6.63,
    'Q': 8.66, 'R': 7.64, 'S': 6.98, 'T': 6.72, 'U': 8.05, 'V': 7.52, 'W': 10.88, 'X': 7.54,
    'Y': 6.72, 'Z': 7.54, '[': 4.29, '\\': 3.71, ']': 4.29, '^': 9.22, '_': 5.5, '`': 5.5,
    'a': 6.74, 'b': 6.98, 'c': 6.05, 'd': 6.98, 'e': 6.77, 'f': 3.87, 'g': 6.98, 'h': 6.97,
    'i': 3.06, 'j': 3.06, 'k': 6.37, 'l': 3.06, 'm': 10.72, 'n': 6.97, 'o': 6.73, 'p': 6.98,
    'q': 6.98, 'r': 4.52, 's': 5.73, 't': 4.31, 'u': 6.97, 'v': 6.51, 'w': 9.0, 'x': 6.51,
    'y': 6.51, 'z': 5.77, '{': 7.0, '|': 3.71, '}': 7.0, '~': 9.22, '\xa0': 3.5, '¡': 4.41,
    '¢': 7.0, '£': 7.0, '¤': 7.0, '¥': 7.0, '¦': 3.71, '§': 5.5, '¨': 5.5, '©': 11.0, 'ª': 5.18,
    '«': 6.73, '¬': 9.22, '\xad': 3.97, '®': 11.0, '¯': 5.5, '°': 5.5, '±': 9.22, '²': 4.41,
    '³': 4.41, '´': 5.5, 'µ': 7.0, '¶': 7.0, '·': 3.5, '¸': 5.5, '¹': 4.41, 'º': 5.18,
    '»': 6.73, '¼': 10.66, '½': 10.66, '¾': 10.66, '¿': 5.84, 'À': 7.52, 'Á': 7.52, 'Â': 7.52,
    'Ã': 7.52, 'Ä': 7.52, 'Å': 7.52, 'Æ': 10.72, 'Ç': 7.68, 'È': 6.95, 'É': 6.95, 'Ê': 6.95,
    'Ë': 6.95, 'Ì': 3.24, 'Í': 3.24, 'Î': 3.24, 'Ï': 3.24, 'Ð': 8.52, 'Ñ': 8.23, 'Ò': 8.66,
    'Ó': 8.66, 'Ô': 8.66, 'Õ': 8.66, 'Ö': 8.66, '×': 9.22, 'Ø': 8.66, 'Ù': 8.05, 'Ú': 8.05,
    'Û': 8.05, 'Ü': 8.05, 'Ý': 6.72, 'Þ': 6.65, 'ß': 6.93, 'à': 6.74, 'á': 6.74, 'â': 6.74,
    'ã': 6.74, 'ä': 6.74, 'å': 6.74, 'æ': 10.8, 'ç': 6.05, 'è': 6.77, 'é': 6.77, 'ê': 6.77,
    'ë': 6.77, 'ì': 3.06, 'í': 3.06, 'î': 3.06, 'ï': 3.06, 'ð': 6.73, 'ñ': 6.97, 'ò': 6.73,
    'ó': 6.73, 'ô': 6.73, 'õ': 6.73, 'ö': 6.73, '÷': 9.22, 'ø': 6.73, 'ù': 6.97, 'ú': 6.97,
    'û': 6.97, 'ü': 6.97, 'ý': 6.51, 'þ': 6.98, 'ÿ': 6.51, '–': 5.5, '—': 11.0, '…': 11.0,
}
# fmt: on


def text_width(text: str) -> float:
    """Width in px of `text` set in DejaVu Sans 11px (no kerning, like shields.io)."""
    return round(sum(WIDTHS.get(ch, FALLBACK) for ch in text), 2)


def _tables(data: bytes) -> dict[str, bytes]:
    (num,) = struct.unpack(">H", data[4:6])
    out = {}
    for i in range(num):
        tag, _, off, length = struct.unpack(">4sIII", data[12 + 16 * i : 28 + 16 * i])
        out[tag.decode("latin-1")] = data[off : off + length]
    return out


def _cmap_format4(cmap: bytes) -> dict[int, int]:
    """Code point -> glyph id for the BMP, from the Windows Unicode (3,1) subtable."""
    (count,) = struct.unpack(">H", cmap[2:4])
    for i in range(count):
        pid, eid, off = struct.unpack(">HHI", cmap[4 + 8 * i : 12 + 8 * i])
        if (pid, eid) == (3, 1):
            sub = cmap[off:]
            break
    else:
        raise ValueError("no (3,1) cmap subtable")
    segx2 = struct.unpack(">H", sub[6:8])[0]
    seg = segx2 // 2
    ends = struct.unpack(f">{seg}H", sub[14 : 14 + segx2])
    base = 16 + segx2
    starts = struct.unpack(f">{seg}H", sub[base : base + segx2])
    deltas = struct.unpack(f">{seg}h", sub[base + segx2 : base + 2 * segx2])
    ro_at = base + 2 * segx2
    ranges = struct.unpack(f">{seg}H", sub[ro_at : ro_at + segx2])
    glyphs = {}
    for s in range(seg):
        for cp in range(starts[s], min(ends[s], 0x24FF) + 1):
            if ranges[s] == 0:
                gid = (cp + deltas[s]) & 0xFFFF
            else:
                at = ro_at + 2 * s + ranges[s] + 2 * (cp - starts[s])
                gid = struct.unpack(">H", sub[at : at + 2])[0]
                gid = (gid + deltas[s]) & 0xFFFF if gid else 0
            if gid:
                glyphs[cp] = gid
    return glyphs


def generate(font: Path, size: float = 11.0) -> dict[str, float]:
    """Widths of printable ASCII and Latin-1 plus a few symbols, from a TrueType file."""
    t = _tables(font.read_bytes())
    units = struct.unpack(">H", t["head"][18:20])[0]
    n_metrics = struct.unpack(">H", t["hhea"][34:36])[0]
    advances = [struct.unpack(">H", t["hmtx"][4 * i : 4 * i + 2])[0] for i in range(n_metrics)]
    glyphs = _cmap_format4(t["cmap"])
    chars = [chr(c) for c in range(32, 127)] + [chr(c) for c in range(160, 256)] + list("×·–—…")
    out = {}
    for ch in chars:
        gid = glyphs.get(ord(ch))
        if gid is not None:
            out[ch] = round(advances[min(gid, n_metrics - 1)] * size / units, 2)
    return out


if __name__ == "__main__":
    print(generate(Path(sys.argv[1])))
