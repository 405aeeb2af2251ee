#!/usr/bin/env python3
"""Checks that a PNG is a real picture: png_check.py FILE WIDTH HEIGHT.

Decodes it with the standard library only (zlib and the five PNG row
filters; 8-bit RGB or RGBA, not interlaced, as Chromium writes them) and
fails (exit 1, one line) unless it has the given size, many distinct
colours, and a good share of pixels that are not the background (the most
common colour): a blank or one-colour page fails."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unexpected PNG format depth=%d colour=%d" % (depth, colour))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    w, h, bpp, rows = decode(path)
    if (w, h) != (want_w, want_h):
        sys.exit("%s is %dx%d, not %dx%d" % (path, w, h, want_w, want_h))
    counts = {}
    for row in rows[::2]:
        for x in range(0, len(row), bpp * 2):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    background = max(counts.values())
    if len(counts) < 50:
        sys.exit("%s has only %d colours: not a drawn page" % (path, len(counts)))
    if total - background < total // 50:
        sys.exit("%s is %.1f%% one colour: blank" % (path, 100.0 * background / total))
    print("png ok %dx%d colours=%d drawn=%.0f%%" % (w, h, len(counts), 100.0 * (total - background) / total))


main()
