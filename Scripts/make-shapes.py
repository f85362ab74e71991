#!/usr/bin/env python3
"""A small colour data set for trying `vae` on your own images: 32x32 PNGs of
circles, squares and triangles of random colours, sizes and places on a dark
background, in class folders (DIR/circle/0.png, ...), the layout
`vae train --data DIR` reads. Standard library only; the same seed gives the
same files.

    usage: Scripts/make-shapes.py DIR [PER_CLASS] [SEED]
"""
import os, random, struct, sys, zlib

def png(path, width, height, rgb):
    """An 8-bit RGB PNG, written with zlib alone."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    rows = b''.join(b'\x00' + bytes(rgb[y * width * 3:(y + 1) * width * 3]) for y in range(height))
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))

def shape(kind, rng, side=32):
    color = [rng.randrange(80, 256) for _ in range(3)]
    r, cx, cy = rng.randrange(6, 12), rng.randrange(10, 22), rng.randrange(10, 22)
    pixels = [12] * (side * side * 3)
    for y in range(side):
        for x in range(side):
            dx, dy = x - cx, y - cy
            inside = (dx * dx + dy * dy <= r * r) if kind == 'circle' else \
                     (abs(dx) <= r and abs(dy) <= r) if kind == 'square' else \
                     (-r <= dy <= r and 2 * abs(dx) <= dy + r)
            if inside:
                pixels[(y * side + x) * 3:(y * side + x) * 3 + 3] = color
    return pixels

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    folder, per_class = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 600
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    for kind in ['circle', 'square', 'triangle']:
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
        for i in range(per_class):
            png(os.path.join(folder, kind, f'{i:04d}.png'), 32, 32, shape(kind, rng))
    print(f'wrote {3 * per_class} images to {folder}/circle, square, triangle')

if __name__ == '__main__':
    main()
