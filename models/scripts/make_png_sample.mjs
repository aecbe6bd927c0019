// Writes models/data/fashion-mnist-png/: the first 12 images of the bundled sample file as greyscale
// PNGs (their original 0-255 pixels), and labels.txt ('<file> <class name>'), for the docs' image
// examples (vitlin classify, verify --inputs <folder>). Run: node models/scripts/make_png_sample.mjs
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';

const COUNT = 12;
const data = join(dirname(fileURLToPath(import.meta.url)), '..', 'data');
const bytes = readFileSync(join(data, 'fashion-mnist-test-1000.bin'));
const headerLength = bytes.readUInt32LE(0);
const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8'));
const size = header.height * header.width;
const out = join(data, 'fashion-mnist-png');
mkdirSync(out, { recursive: true });
const lines = [];
for (let i = 0; i < COUNT; i++) {
  const name = `${String(i).padStart(3, '0')}.png`;
  const pixels = bytes.subarray(header.pixelOffset + i * size, header.pixelOffset + (i + 1) * size);
  writeFileSync(join(out, name), encode({ width: header.width, height: header.height, data: new Uint8Array(pixels), channels: 1, depth: 8 }));
  lines.push(`${name}\t${header.classes[bytes[header.labelOffset + i]]}`);
}
writeFileSync(join(out, 'labels.txt'), lines.join('\n') + '\n');
